package images

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"time"
)

// Image is one single-layer linux/amd64 image.
type Image struct {
	// Name is the full reference containerd stores it under, e.g.
	// "drover.invalid/pause:e2e" (a reserved domain: nothing can pull it).
	Name       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	User       string // "uid:gid"; empty means root
	WorkingDir string
	Files      []File
}

// File is one entry of the layer. Exactly one of Source, Data, Link or Dir
// says what it is.
type File struct {
	Path   string // absolute, inside the image
	Mode   os.FileMode
	UID    int
	GID    int
	Source string // a file on this machine, copied in
	Data   []byte // or the content itself
	Link   string // or a symbolic link to this target
	Dir    bool   // or a directory
}

// epoch is every entry's time: archives are reproducible.
var epoch = time.Unix(0, 0).UTC()

// WriteArchive writes img as an OCI image-layout tar archive to path.
func WriteArchive(path string, img Image) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := Write(f, img); err != nil {
		f.Close()
		return fmt.Errorf("images: write %s: %w", path, err)
	}
	return f.Close()
}

// Write writes img as an OCI image-layout tar archive to w.
func Write(w io.Writer, img Image) error {
	if img.Name == "" {
		return fmt.Errorf("image has no name")
	}
	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name, err)
	}
	config, err := json.Marshal(imageConfig{
		Architecture: "amd64",
		OS:           "linux",
		Created:      epoch.Format(time.RFC3339),
		Config: runConfig{
			Entrypoint: img.Entrypoint, Cmd: img.Cmd, Env: img.Env, User: img.User, WorkingDir: img.WorkingDir,
		},
		RootFS: rootFS{Type: "layers", DiffIDs: []string{diffID}},
	})
	if err != nil {
		return err
	}
	manifest, err := json.Marshal(imageManifest{
		SchemaVersion: 2,
		MediaType:     mediaManifest,
		Config:        descriptorOf(mediaConfig, config, nil),
		Layers:        []descriptor{descriptorOf(mediaLayerGzip, layer, nil)},
	})
	if err != nil {
		return err
	}
	index, err := json.Marshal(imageIndex{
		SchemaVersion: 2,
		MediaType:     mediaIndex,
		Manifests: []descriptor{descriptorOf(mediaManifest, manifest, map[string]string{
			"io.containerd.image.name":          img.Name,
			"org.opencontainers.image.ref.name": refName(img.Name),
		})},
	})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	entries := []struct {
		name string
		data []byte
	}{
		{"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{"index.json", index},
		{"blobs/sha256/" + digestHex(config), config},
		{"blobs/sha256/" + digestHex(manifest), manifest},
		{"blobs/sha256/" + digestHex(layer), layer},
	}
	for _, dir := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755, ModTime: epoch}); err != nil {
			return err
		}
	}
	for _, e := range entries {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: e.name, Mode: 0o644, Size: int64(len(e.data)), ModTime: epoch}); err != nil {
			return err
		}
		if _, err := tw.Write(e.data); err != nil {
			return err
		}
	}
	return tw.Close()
}

// refName is the tag of a reference ("latest" when it has none).
func refName(ref string) string {
	base := path.Base(ref)
	for i := len(base) - 1; i >= 0; i-- {
		if base[i] == ':' {
			return base[i+1:]
		}
	}
	return "latest"
}

// buildLayer returns the gzip-compressed layer and the digest of its
// uncompressed tar (the config's diff ID).
func buildLayer(files []File) (gz []byte, diffID string, err error) {
	var compressed bytes.Buffer
	zw, err := gzip.NewWriterLevel(&compressed, gzip.BestSpeed)
	if err != nil {
		return nil, "", err
	}
	h := sha256.New()
	tw := tar.NewWriter(io.MultiWriter(zw, h))
	for _, f := range files {
		if err := writeEntry(tw, f); err != nil {
			return nil, "", fmt.Errorf("layer entry %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return compressed.Bytes(), "sha256:" + hex.EncodeToString(h.Sum(nil)), nil
}

func writeEntry(tw *tar.Writer, f File) error {
	if !path.IsAbs(f.Path) || path.Clean(f.Path) != f.Path {
		return fmt.Errorf("path must be absolute and clean")
	}
	hdr := &tar.Header{Name: f.Path[1:], Mode: int64(f.Mode.Perm()), Uid: f.UID, Gid: f.GID, ModTime: epoch}
	if f.Mode&os.ModeSticky != 0 {
		hdr.Mode |= 0o1000
	}
	switch {
	case f.Dir:
		hdr.Typeflag, hdr.Name = tar.TypeDir, hdr.Name+"/"
		return tw.WriteHeader(hdr)
	case f.Link != "":
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, f.Link
		hdr.Mode = 0o777
		return tw.WriteHeader(hdr)
	case f.Source != "":
		data, err := os.ReadFile(filepath.Clean(f.Source))
		if err != nil {
			return err
		}
		f.Data = data
	}
	hdr.Typeflag, hdr.Size = tar.TypeReg, int64(len(f.Data))
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := tw.Write(f.Data)
	return err
}
