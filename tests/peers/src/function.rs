//! The built `function-hybrid-spoke` binary on a free loopback port, and
//! certificates shaped like the ones Crossplane generates for functions
//! (`internal/initializer/cert_generator.go`: RSA-2048 keys as PKCS#1
//! "RSA PRIVATE KEY" PEM, a CA with organization "Crossplane").

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::{Process, TempDir, free_port, function_binary, listening};

/// A running function server, killed on drop.
pub struct FunctionServer {
    process: Process,
    port: u16,
    pki: Option<Pki>,
    _dir: TempDir,
}

impl FunctionServer {
    /// `function-hybrid-spoke --insecure --address 127.0.0.1:<free>`, the way
    /// `crossplane render` needs it (runtime `Development`).
    pub fn start_insecure() -> Self {
        Self::start(None)
    }

    /// The function serving mTLS from a `--tls-certs-dir` holding `tls.crt`,
    /// `tls.key`, `ca.crt`, as Crossplane mounts them; [`FunctionServer::pki`]
    /// holds the client certificate Crossplane would present.
    pub fn start_mtls() -> Self {
        Self::start(Some(Pki::new()))
    }

    /// The function serving mTLS with certificates from `pki` (e.g. one
    /// whose CA is also Crossplane's root CA), on `port` or a free one.
    pub fn start_mtls_with(pki: Pki, port: Option<u16>) -> Self {
        Self::start_on(Some(pki), port)
    }

    fn start(pki: Option<Pki>) -> Self {
        Self::start_on(pki, None)
    }

    fn start_on(pki: Option<Pki>, port: Option<u16>) -> Self {
        let dir = TempDir::new("function");
        let port = port.unwrap_or_else(free_port);
        let mut command = Command::new(function_binary());
        command
            .arg("--address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--metrics-address")
            .arg(format!("127.0.0.1:{}", free_port()))
            .env_remove("TLS_SERVER_CERTS_DIR")
            .env_remove("METRICS_ADDRESS");
        match &pki {
            None => {
                command.arg("--insecure");
            }
            Some(pki) => {
                command.arg("--tls-certs-dir").arg(pki.server_dir());
            }
        }
        let mut process = Process::spawn(
            "function-hybrid-spoke",
            command,
            dir.path().join("function.log"),
        );
        process.wait_until("listening", Duration::from_secs(20), || listening(port));
        Self {
            process,
            port,
            pki,
            _dir: dir,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The certificates, for a server started with [`FunctionServer::start_mtls`].
    pub fn pki(&self) -> Option<&Pki> {
        self.pki.as_ref()
    }

    /// Stops the server (SIGKILL to its process group), keeping its port
    /// and certificates for [`FunctionServer::restart`].
    pub fn stop(self) -> (Option<Pki>, u16) {
        let FunctionServer {
            process,
            port,
            pki,
            _dir,
        } = self;
        drop(process);
        (pki, port)
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        self.process.log()
    }

    /// Panics with the log if the server has exited.
    pub fn assert_running(&mut self) {
        self.process.assert_running();
    }

    /// A `pkg.crossplane.io/v1` Function named `name` that `crossplane
    /// render` runs against this server (runtime `Development`).
    pub fn render_functions_yaml(&self, name: &str) -> String {
        format!(
            "apiVersion: pkg.crossplane.io/v1\n\
             kind: Function\n\
             metadata:\n  \
               name: {name}\n  \
               annotations:\n    \
                 render.crossplane.io/runtime: Development\n    \
                 render.crossplane.io/runtime-development-target: {address}\n\
             spec:\n  \
               package: xpkg.hybrid-spoke.invalid/{name}:v0.0.0-test\n",
            address = self.address()
        )
    }
}

const PKCS1_LABEL: &str = "RSA PRIVATE KEY";

/// An RSA-2048 key pair (aws-lc-rs generates it; rcgen signs with it).
fn rsa_key() -> rcgen::KeyPair {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).expect("generate an RSA-2048 key")
}

/// The key as PKCS#1 PEM: the RSAPrivateKey inside rcgen's PKCS#8 DER.
fn pkcs1_pem(key: &rcgen::KeyPair) -> String {
    /// One DER TLV: (tag, contents, rest).
    fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
        let (tag, first) = (der[0], der[1] as usize);
        let (len, header) = if first < 0x80 {
            (first, 2)
        } else {
            let n = first & 0x7f;
            let len = der[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | *b as usize);
            (len, 2 + n)
        };
        (tag, &der[header..header + len], &der[header + len..])
    }
    const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    // PrivateKeyInfo ::= SEQUENCE { version, AlgorithmIdentifier, OCTET STRING privateKey }
    let der = key.serialize_der();
    let (tag, info, _) = tlv(&der);
    assert_eq!(tag, 0x30, "PrivateKeyInfo is a SEQUENCE");
    let (_, _version, rest) = tlv(info);
    let (_, algorithm, rest) = tlv(rest);
    let (tag, oid, _) = tlv(algorithm);
    assert_eq!((tag, oid), (0x06, RSA_ENCRYPTION), "rsaEncryption");
    let (tag, rsa_private_key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "privateKey OCTET STRING");
    pem::encode(&pem::Pem::new(PKCS1_LABEL, rsa_private_key.to_vec()))
}

/// A certificate and its PKCS#1 key, both PEM.
#[derive(Clone, Debug)]
pub struct CertKey {
    pub cert: String,
    pub key: String,
}

/// A CA, the function's server certificate and Crossplane's client
/// certificate, written as Crossplane mounts them: `server/` and `client/`
/// directories each with `tls.crt`, `tls.key`, `ca.crt`.
pub struct Pki {
    pub ca_cert: String,
    /// The CA's key, PKCS#1 PEM (Crossplane's `crossplane-root-ca` Secret
    /// holds it as `tls.key`).
    pub ca_key: String,
    pub server: CertKey,
    pub client: CertKey,
    dir: TempDir,
}

impl Pki {
    pub fn new() -> Self {
        let ca_key = rsa_key();
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Crossplane Root CA");
        params
            .distinguished_name
            .push(rcgen::DnType::OrganizationName, "Crossplane");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
            rcgen::KeyUsagePurpose::DigitalSignature,
        ];
        let ca_cert = params.self_signed(&ca_key).expect("self-sign the CA").pem();
        let ca_key_pem = pkcs1_pem(&ca_key);
        let issuer = rcgen::Issuer::new(params, ca_key);
        let leaf = |cn: &str, sans: &[&str], usage| {
            let key = rsa_key();
            let mut params = rcgen::CertificateParams::new(
                sans.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
            )
            .expect("leaf params");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, "Crossplane");
            params.key_usages = vec![
                rcgen::KeyUsagePurpose::DigitalSignature,
                rcgen::KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![usage];
            params.use_authority_key_identifier_extension = true;
            let cert = params.signed_by(&key, &issuer).expect("sign a leaf");
            CertKey {
                cert: cert.pem(),
                key: pkcs1_pem(&key),
            }
        };
        let server = leaf(
            "function-hybrid-spoke",
            &[
                "localhost",
                "127.0.0.1",
                "function-hybrid-spoke.crossplane-system",
            ],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        let client = leaf(
            "crossplane",
            &["crossplane"],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        let dir = TempDir::new("pki");
        for (sub, pair) in [("server", &server), ("client", &client)] {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).expect("create a certs dir");
            std::fs::write(d.join("tls.crt"), &pair.cert).expect("write tls.crt");
            std::fs::write(d.join("tls.key"), &pair.key).expect("write tls.key");
            std::fs::write(d.join("ca.crt"), &ca_cert).expect("write ca.crt");
        }
        Self {
            ca_cert,
            ca_key: ca_key_pem,
            server,
            client,
            dir,
        }
    }

    /// `tls.crt`, `tls.key`, `ca.crt` of the function (TLS_SERVER_CERTS_DIR).
    pub fn server_dir(&self) -> PathBuf {
        self.dir.path().join("server")
    }

    /// `tls.crt`, `tls.key`, `ca.crt` of Crossplane (TLS_CLIENT_CERTS_DIR).
    pub fn client_dir(&self) -> PathBuf {
        self.dir.path().join("client")
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_pkcs1_rsa_like_crossplanes() {
        let pki = super::Pki::new();
        for key in [&pki.server.key, &pki.client.key] {
            let parsed = pem::parse(key).unwrap();
            assert_eq!(parsed.tag(), "RSA PRIVATE KEY");
            // RSAPrivateKey of a 2048-bit modulus: ~1190 bytes of DER.
            assert!((1100..1300).contains(&parsed.contents().len()));
        }
        assert!(std::fs::read_to_string(pki.server_dir().join("ca.crt")).unwrap() == pki.ca_cert);
    }
}
