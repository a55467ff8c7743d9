// Command ociimage writes a container image without Docker: each --layer
// directory becomes one reproducible layer (sorted entries, owner root
// unless --owner says otherwise, modification time SOURCE_DATE_EPOCH or 0),
// the image config carries the entrypoint, user, ports, environment and
// labels given, and the image is written as the tarball `docker save`
// writes, which `crossplane xpkg build --embed-runtime-image-tarball`
// reads. Layers, manifest and tarball are go-containerregistry's, the
// library crane and crossplane use.
//
//	ociimage --out img.tar --tag ghcr.io/x/y:v1 --layer base/ --layer app/ \
//	  --entrypoint /app --user 65532:65532 --expose 9443/tcp
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

type owner struct{ uid, gid int }

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "ociimage: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var layers, env, labels, ports, owners list
	out := flag.String("out", "", "image tarball to write")
	tag := flag.String("tag", "", "image reference recorded in the tarball")
	entrypoint := flag.String("entrypoint", "", "entrypoint (one path, no arguments)")
	user := flag.String("user", "", "user the entrypoint runs as, UID[:GID]")
	workdir := flag.String("workdir", "/", "working directory")
	flag.Var(&layers, "layer", "directory whose contents become one layer (repeatable, base first)")
	flag.Var(&env, "env", "KEY=VALUE in the image environment (repeatable)")
	flag.Var(&labels, "label", "KEY=VALUE image label (repeatable)")
	flag.Var(&ports, "expose", "exposed port, PORT/PROTO (repeatable)")
	flag.Var(&owners, "owner", "PATH=UID:GID owner of a path in the layers (repeatable; default 0:0)")
	flag.Parse()
	if *out == "" || *tag == "" || *entrypoint == "" || len(layers) == 0 {
		return fmt.Errorf("--out, --tag, --entrypoint and at least one --layer are required")
	}
	ref, err := name.NewTag(*tag)
	if err != nil {
		return fmt.Errorf("--tag %q: %w", *tag, err)
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	owned := map[string]owner{}
	for _, o := range owners {
		path, ids, ok := strings.Cut(o, "=")
		uid, gid, ok2 := strings.Cut(ids, ":")
		u, err1 := strconv.Atoi(uid)
		g, err2 := strconv.Atoi(gid)
		if !ok || !ok2 || err1 != nil || err2 != nil {
			return fmt.Errorf("--owner %q: want PATH=UID:GID", o)
		}
		owned[strings.Trim(path, "/")] = owner{u, g}
	}

	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	for _, dir := range layers {
		data, err := tarDir(dir, owned, created)
		if err != nil {
			return err
		}
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(data)), nil
		}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
		if err != nil {
			return fmt.Errorf("layer %s: %w", dir, err)
		}
		img, err = mutate.Append(img, mutate.Addendum{
			Layer:   layer,
			History: v1.History{Created: v1.Time{Time: created}, CreatedBy: "ociimage --layer " + filepath.Base(filepath.Clean(dir)), Comment: "hybrid-spoke tests/tools/xpkg.sh"},
		})
		if err != nil {
			return err
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture, cfg.Created = "linux", "amd64", v1.Time{Time: created}
	cfg.Config.Entrypoint = []string{*entrypoint}
	cfg.Config.User = *user
	cfg.Config.WorkingDir = *workdir
	cfg.Config.Env = env
	if len(ports) > 0 {
		cfg.Config.ExposedPorts = map[string]struct{}{}
		for _, p := range ports {
			cfg.Config.ExposedPorts[p] = struct{}{}
		}
	}
	if len(labels) > 0 {
		cfg.Config.Labels = map[string]string{}
		for _, l := range labels {
			k, v, ok := strings.Cut(l, "=")
			if !ok {
				return fmt.Errorf("--label %q: want KEY=VALUE", l)
			}
			cfg.Config.Labels[k] = v
		}
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return err
	}
	if err := tarball.WriteToFile(*out, ref, img); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	return report(*out, img)
}

// report prints the image digest and its size: compressed (what a registry
// stores and a node pulls) and uncompressed (what the node unpacks).
func report(out string, img v1.Image) error {
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	ls, err := img.Layers()
	if err != nil {
		return err
	}
	var compressed, uncompressed int64
	for _, l := range ls {
		size, err := l.Size()
		if err != nil {
			return err
		}
		compressed += size
		rc, err := l.Uncompressed()
		if err != nil {
			return err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return err
		}
		uncompressed += n
	}
	fmt.Printf("%s %s layers=%d compressed=%d uncompressed=%d\n", out, digest, len(ls), compressed, uncompressed)
	return nil
}

func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Unix(0, 0).UTC(), nil
	}
	s, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(s, 0).UTC(), nil
}

// tarDir archives dir's contents (paths relative to it, sorted) with
// normalized owners and times, so the same files give the same digest.
func tarDir(dir string, owned map[string]owner, mtime time.Time) ([]byte, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", dir, err)
	}
	sort.Strings(paths)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, p := range paths {
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		info, err := os.Lstat(p)
		if err != nil {
			return nil, err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return nil, err
			}
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Format = tar.FormatPAX
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		if o, ok := owned[rel]; ok {
			hdr.Uid, hdr.Gid = o.uid, o.gid
		}
		hdr.ModTime, hdr.AccessTime, hdr.ChangeTime = mtime, time.Time{}, time.Time{}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if info.Mode().IsRegular() {
			f, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(tw, f)
			f.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
