package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/drover-dev/drover/test/images"
	"github.com/drover-dev/drover/test/realcluster"
)

// maxImageLine bounds one line of `e2e.test --list-images`.
const maxImageLine = 1024

// imageRef is a reference with a tag and no digest: host/path:tag. The
// path components and the tag use the characters registries allow.
var imageRef = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*(?::[0-9]+)?(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ParseImageList reads the output of `e2e.test --list-images`: one image
// reference per line (host/path:tag), blank lines ignored. It returns the
// references sorted, without repeats; anything else on a line is an error,
// so that a changed output format is noticed rather than half-read.
func ParseImageList(r io.Reader) ([]string, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxImageLine)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if !imageRef.MatchString(line) {
			return nil, fmt.Errorf("line %d: %q is not an image reference with a tag", n, clip(line, 80))
		}
		seen[line] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read image list: %w", err)
	}
	if len(seen) == 0 {
		return nil, errors.New("the image list is empty")
	}
	return slices.Sorted(func(yield func(string) bool) {
		for ref := range seen {
			if !yield(ref) {
				return
			}
		}
	}), nil
}

// splitRef splits a reference ParseImageList returned into its repository
// and tag (the tag follows the last colon after the last slash).
func splitRef(ref string) (repo, tag string) {
	i := strings.LastIndexByte(ref, ':')
	if i < strings.LastIndexByte(ref, '/') {
		return ref, ""
	}
	return ref[:i], ref[i+1:]
}

// e2eRepos are the upstream repositories whose images are built here (see
// package images for how close each is to upstream's); the e2e tests that
// need any other image are not in the real-node subset.
var e2eRepos = []string{
	"registry.k8s.io/e2e-test-images/agnhost",
	"registry.k8s.io/e2e-test-images/busybox",
	"registry.k8s.io/e2e-test-images/httpd",
	"registry.k8s.io/e2e-test-images/kitten",
	"registry.k8s.io/e2e-test-images/nautilus",
	"registry.k8s.io/pause",
}

// PickImages returns, for each of repos, the references of refs in that
// repository (every tag: httpd has two). A repository with no reference is
// an error: the e2e binary would run an image nobody imported.
func PickImages(refs, repos []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, ref := range refs {
		repo, _ := splitRef(ref)
		if slices.Contains(repos, repo) {
			out[repo] = append(out[repo], ref)
		}
	}
	var errs []error
	for _, repo := range repos {
		if len(out[repo]) == 0 {
			errs = append(errs, fmt.Errorf("e2e.test --list-images names no image of %s", repo))
		}
	}
	return out, errors.Join(errs...)
}

// imageSources are the files the e2e images are made of.
type imageSources struct {
	E2ETest string // asked for the image names
	Agnhost string // static agnhost (`make conformance-nodes` builds it)
	Busybox string // static busybox (Debian's busybox-static)
	KubeSrc string // k8s.io/kubernetes source of e2e.test's version
}

// buildE2EImages writes an OCI archive for every tag of e2eRepos that
// e2e.test names into dir, and returns their paths.
func buildE2EImages(ctx context.Context, src imageSources, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, src.E2ETest, "--list-images")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s --list-images: %w\n%s", src.E2ETest, err, stderr.Bytes())
	}
	refs, err := ParseImageList(&stdout)
	if err != nil {
		return nil, fmt.Errorf("%s --list-images: %w", src.E2ETest, err)
	}
	picked, err := PickImages(refs, e2eRepos)
	if err != nil {
		return nil, err
	}
	pauseBin := filepath.Join(dir, "pause")
	if err := realcluster.BuildStatic(ctx, pauseBin, "./test/images/pause"); err != nil {
		return nil, err
	}
	imagesDir := filepath.Join(src.KubeSrc, "test", "images")
	var imgs []images.Image
	for _, repo := range e2eRepos {
		for _, ref := range picked[repo] {
			var img images.Image
			var err error
			switch filepath.Base(repo) {
			case "agnhost":
				img, err = images.Agnhost(ctx, ref, src.Agnhost, src.Busybox, filepath.Join(imagesDir, "agnhost", "porter"))
			case "busybox":
				img, err = images.E2EBusybox(ctx, ref, src.Busybox)
			case "httpd":
				img, err = images.BusyboxHTTPD(ctx, ref, src.Busybox, filepath.Join(imagesDir, "httpd", "index.html"))
			case "kitten", "nautilus":
				var base images.Image
				if base, err = images.Agnhost(ctx, ref, src.Agnhost, src.Busybox, filepath.Join(imagesDir, "agnhost", "porter")); err == nil {
					img, err = images.AgnhostWebServer(ref, base, filepath.Join(imagesDir, filepath.Base(repo), "html"))
				}
			case "pause":
				img = images.Pause(ref, pauseBin)
			default:
				err = fmt.Errorf("no image is built for %s", repo)
			}
			if err != nil {
				return nil, fmt.Errorf("image %s: %w", ref, err)
			}
			imgs = append(imgs, img)
		}
	}
	var out []string
	for _, img := range imgs {
		repo, tag := splitRef(img.Name)
		path := filepath.Join(dir, filepath.Base(repo)+"_"+tag+".tar")
		if err := images.WriteArchive(path, img); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// kubeSource returns the directory of the k8s.io/kubernetes module that
// tools/e2eimages pins (the module cache's copy), where the images' data
// files are.
func kubeSource(ctx context.Context, repo string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", "k8s.io/kubernetes")
	cmd.Dir = filepath.Join(repo, "tools", "e2eimages")
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("find the k8s.io/kubernetes source: go list -m in %s: %w\n%s", cmd.Dir, err, stderr.Bytes())
	}
	dir := strings.TrimSpace(string(out))
	if dir == "" {
		return "", fmt.Errorf("find the k8s.io/kubernetes source: not in the module cache (run make conformance-bins)")
	}
	return dir, nil
}
