package images

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The upstream e2e test images (k8s.io/kubernetes/test/images), built here
// from their sources or from what stands in for their base image, for
// `make conformance-nodes`: the e2e tests name them by their registry names,
// which nothing here can pull. Each function says how close its image is to
// upstream's; the real-node e2e subset (test/conformance/tests-nodes.txt)
// keeps only tests that pass straight to the apiserver with them.

// E2EBusybox is upstream's busybox image (busybox:1.36.1 with nothing
// added) from Debian's busybox-static at bin: the same program, another
// release (Debian 12 ships 1.35), with busybox's applets in /bin.
func E2EBusybox(ctx context.Context, name, bin string) (Image, error) {
	img, err := Busybox(ctx, name, bin)
	if err != nil {
		return Image{}, err
	}
	img.Cmd = []string{"sh"}
	img.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return img, nil
}

// Agnhost is the agnhost image as test/images/agnhost/Dockerfile lays it
// out, with the agnhost program at agnhostBin (built from the same
// Kubernetes source as e2e.test): /agnhost as the entrypoint with "pause"
// as the command, /agnhost-2 linking to it (the entrypoint tests), the
// porter's localhost.crt and localhost.key from porterDir, /uploads
// (netexec), and the user-defined-in-image user (1000) in
// group-defined-in-image (50000). Upstream's base is Alpine, whose shell and
// utilities are busybox: here they are busybox's applets from busyboxBin.
// What upstream adds with apk (curl, bind-tools' dig, netcat-openbsd,
// iproute2, iperf, bash) and CoreDNS are missing: a test that runs them
// fails straight to the apiserver too, and is left out of the subset.
func Agnhost(ctx context.Context, name, agnhostBin, busyboxBin, porterDir string) (Image, error) {
	img, err := Busybox(ctx, name, busyboxBin)
	if err != nil {
		return Image{}, err
	}
	img.Entrypoint = []string{"/agnhost"}
	img.Cmd = []string{"pause"}
	img.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	img.Files = setFiles(img.Files,
		File{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\n" +
			"nobody:x:65534:65534:nobody:/:/sbin/nologin\n" +
			"user-defined-in-image:x:1000:1000:Linux User,,,:/home/user-defined-in-image:/bin/sh\n")},
		File{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:root\nnogroup:x:65533:\nnobody:x:65534:\n" +
			"user-defined-in-image:x:1000:\ngroup-defined-in-image:x:50000:user-defined-in-image\n")},
		File{Path: "/home", Mode: 0o755, Dir: true},
		File{Path: "/home/user-defined-in-image", Mode: 0o755, Dir: true, UID: 1000, GID: 1000},
		File{Path: "/uploads", Mode: 0o755, Dir: true},
		File{Path: "/localhost.crt", Mode: 0o644, Source: filepath.Join(porterDir, "localhost.crt")},
		File{Path: "/localhost.key", Mode: 0o644, Source: filepath.Join(porterDir, "localhost.key")},
		File{Path: "/agnhost", Mode: 0o755, Source: agnhostBin},
		File{Path: "/agnhost-2", Link: "agnhost"},
	)
	return img, nil
}

// AgnhostWebServer is an image FROM agnhost that adds the files of htmlDir
// at the root and runs agnhost's test-webserver, as upstream's kitten and
// nautilus images (test/images/kitten, test/images/nautilus) do. base is
// the Agnhost image; its name is replaced by name.
func AgnhostWebServer(name string, base Image, htmlDir string) (Image, error) {
	entries, err := os.ReadDir(htmlDir)
	if err != nil {
		return Image{}, fmt.Errorf("images: %w", err)
	}
	img := base
	img.Name = name
	img.Cmd = []string{"test-webserver"}
	img.Files = append([]File(nil), base.Files...)
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		img.Files = setFiles(img.Files, File{Path: "/" + e.Name(), Mode: 0o644, Source: filepath.Join(htmlDir, e.Name())})
	}
	return img, nil
}

// BusyboxHTTPD stands in for upstream's httpd images (httpd:2.4.38-alpine
// and 2.4.39-alpine, mirrored unchanged): it is NOT Apache but busybox's
// httpd applet, serving upstream's index.html ("It works!", from
// test/images/httpd) from /usr/local/apache2/htdocs on port 80 in the
// foreground, with busybox's shell and tar as on Alpine. The tests that
// use these images need exactly that: a pod that stays up, answers its
// readiness probe and `GET /` on port 80 with "It works!", and runs sh,
// tar (`kubectl cp`) and printenv. None of them checks that the server is
// Apache.
func BusyboxHTTPD(ctx context.Context, name, busyboxBin, indexHTML string) (Image, error) {
	img, err := Busybox(ctx, name, busyboxBin)
	if err != nil {
		return Image{}, err
	}
	const docroot = "/usr/local/apache2/htdocs"
	img.WorkingDir = "/usr/local/apache2"
	img.Cmd = []string{"httpd", "-f", "-p", "80", "-h", docroot}
	img.Files = setFiles(img.Files,
		File{Path: "/usr", Mode: 0o755, Dir: true},
		File{Path: "/usr/local", Mode: 0o755, Dir: true},
		File{Path: "/usr/local/apache2", Mode: 0o755, Dir: true},
		File{Path: docroot, Mode: 0o755, Dir: true},
		File{Path: docroot + "/index.html", Mode: 0o644, Source: indexHTML},
	)
	return img, nil
}

// setFiles replaces the files of the same path in files, or appends them,
// keeping the order (a directory before what it holds).
func setFiles(files []File, set ...File) []File {
	out := append([]File(nil), files...)
	for _, f := range set {
		replaced := false
		for i := range out {
			if out[i].Path == f.Path {
				out[i], replaced = f, true
				break
			}
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return out
}
