//! Headscale on loopback: sqlite, policy in database mode, no DERP server,
//! no update checks, nothing that reaches the internet (config derived from
//! Headscale v0.29.2's `config-example.yaml`, shared/reference/tailscale.md §6.5).

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::{HttpResponse, Process, TempDir, free_port, http, peer_binary, run};

/// Which Headscale to start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadscaleVersion {
    /// v0.29.2 (`HYBRID_SPOKE_HEADSCALE_V0_29`): `/api/v1` only.
    V0_29,
    /// main at f20f1f12 (`HYBRID_SPOKE_HEADSCALE_MAIN`): `/api/v1` plus the
    /// Tailscale-compatible `/api/v2`.
    Main,
}

impl HeadscaleVersion {
    pub fn env_var(self) -> &'static str {
        match self {
            Self::V0_29 => "HYBRID_SPOKE_HEADSCALE_V0_29",
            Self::Main => "HYBRID_SPOKE_HEADSCALE_MAIN",
        }
    }
}

/// A running Headscale with one user and an admin API key; killed and its
/// data dir removed on drop.
pub struct Headscale {
    process: Process,
    version: HeadscaleVersion,
    url: String,
    api_key: String,
    user: Value,
    config: std::path::PathBuf,
    binary: std::path::PathBuf,
    _dir: TempDir,
}

/// The user [`Headscale::start`] creates.
pub const USER: &str = "hybrid-spoke";

impl Headscale {
    /// Starts Headscale `version`, waits for `/health`, then creates the user
    /// [`USER`] and an API key (1 h) with its CLI.
    pub fn start(version: HeadscaleVersion) -> Self {
        let binary = peer_binary(version.env_var());
        let dir = TempDir::new("headscale");
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let config = dir.path().join("config.yaml");
        std::fs::write(&config, config_yaml(dir.path(), port)).expect("write config.yaml");
        std::fs::write(dir.path().join("derp.yaml"), DERP_YAML).expect("write derp.yaml");
        std::fs::create_dir_all(dir.path().join("data")).expect("create data/");

        let mut command = Command::new(&binary);
        command
            .arg("-c")
            .arg(&config)
            .arg("serve")
            .env_remove("HEADSCALE_CONFIG")
            .current_dir(dir.path());
        let mut process = Process::spawn("headscale", command, dir.path().join("headscale.log"));
        let health = format!("{url}/health");
        process.wait_until("healthy", Duration::from_secs(30), || {
            crate::try_http("GET", &health, &[], None).is_ok_and(|r| r.status == 200)
        });
        let socket = dir.path().join("data/headscale.sock");
        process.wait_until("serving its CLI socket", Duration::from_secs(10), || {
            socket.exists()
        });

        let cli = |args: &[&str]| -> Value {
            let out = run(
                &format!("headscale {}", args.join(" ")),
                Command::new(&binary)
                    .arg("-c")
                    .arg(&config)
                    .args(args)
                    .args(["-o", "json"])
                    .env_remove("HEADSCALE_CONFIG")
                    .current_dir(dir.path()),
            );
            serde_json::from_str(out.trim())
                .unwrap_or_else(|e| panic!("headscale {args:?} printed no JSON ({e}): {out}"))
        };
        let user = cli(&["users", "create", USER]);
        let api_key = cli(&["apikeys", "create", "--expiration", "1h"])
            .as_str()
            .expect("apikeys create prints the key")
            .to_string();
        assert!(
            api_key.starts_with("hskey-api-"),
            "unexpected API key shape: {api_key}"
        );
        Self {
            process,
            version,
            url,
            api_key,
            user,
            config,
            binary,
            _dir: dir,
        }
    }

    pub fn version(&self) -> HeadscaleVersion {
        self.version
    }

    /// `http://127.0.0.1:<port>`: the REST API (`/api/v1`, and `/api/v2` on main).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An admin API key (`hskey-api-…`), for `Authorization: Bearer`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The user created at start, as the CLI printed it (`id`, `name`, …).
    pub fn user(&self) -> &Value {
        &self.user
    }

    /// The user's id (a decimal string, as the REST API takes it).
    pub fn user_id(&self) -> String {
        match &self.user["id"] {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => panic!("the created user has no id: {other}"),
        }
    }

    pub fn config_path(&self) -> &Path {
        &self.config
    }

    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// What Headscale logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// A request to the REST API with the admin key as bearer token; `path`
    /// starts with `/api/`.
    pub fn request(&self, method: &str, path: &str, body: Option<&Value>) -> HttpResponse {
        let auth = format!("Bearer {}", self.api_key);
        let body = body.map(Value::to_string);
        let mut headers = vec![("Authorization", auth.as_str())];
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        http(
            method,
            &format!("{}{path}", self.url),
            &headers,
            body.as_deref(),
        )
    }

    /// [`Headscale::request`] with extra headers.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) -> HttpResponse {
        let auth = format!("Bearer {}", self.api_key);
        let mut headers = vec![("Authorization", auth.as_str())];
        headers.extend_from_slice(extra);
        http(method, &format!("{}{path}", self.url), &headers, body)
    }
}

/// A placeholder DERP region: Headscale refuses to start with an empty DERP
/// map, and no client ever connects in these tests.
const DERP_YAML: &str = "regions:
  900:
    regionid: 900
    regioncode: local
    regionname: Local
    nodes:
      - name: 900a
        regionid: 900
        hostname: 127.0.0.1
        ipv4: 127.0.0.1
        stunport: -1
        derpport: 0
";

fn config_yaml(dir: &Path, port: u16) -> String {
    let dir = dir.display();
    let (metrics, grpc) = (free_port(), free_port());
    format!(
        "server_url: http://127.0.0.1:{port}
listen_addr: 127.0.0.1:{port}
metrics_listen_addr: 127.0.0.1:{metrics}
grpc_listen_addr: 127.0.0.1:{grpc}
grpc_allow_insecure: false
noise:
  private_key_path: {dir}/data/noise_private.key
prefixes:
  v4: 100.64.0.0/10
  v6: fd7a:115c:a1e0::/48
  allocation: sequential
derp:
  server:
    enabled: false
  urls: []
  paths:
    - {dir}/derp.yaml
  auto_update_enabled: false
  update_frequency: 24h
disable_check_updates: true
database:
  type: sqlite
  sqlite:
    path: {dir}/data/db.sqlite
    write_ahead_log: true
policy:
  mode: database
dns:
  magic_dns: false
  override_local_dns: false
  base_domain: \"\"
log:
  level: info
unix_socket: {dir}/data/headscale.sock
unix_socket_permission: \"0770\"
logtail:
  enabled: false
"
    )
}
