package images

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// NonRootUID is the user the agent image runs as: distroless's "nonroot",
// as in deploy/docker/Dockerfile.agent and the import manifest.
const NonRootUID = 65532

// Pause is the sandbox image: the static program built from ./pause at bin.
func Pause(name, bin string) Image {
	return Image{
		Name:       name,
		Entrypoint: []string{"/pause"},
		User:       "65535:65535",
		Files:      []File{{Path: "/pause", Mode: 0o755, Source: bin}},
	}
}

// Agent is the drover-agent image as deploy/docker/Dockerfile.agent builds
// it: the static binary at /drover-agent, run as 65532:65532, with the few
// files distroless/static has that a Go program may look at.
func Agent(name, bin string) Image {
	return Image{
		Name:       name,
		Entrypoint: []string{"/drover-agent"},
		User:       fmt.Sprintf("%d:%d", NonRootUID, NonRootUID),
		Env:        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
		Files: []File{
			{Path: "/etc", Mode: 0o755, Dir: true},
			{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")},
			{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnonroot:x:65532:\n")},
			{Path: "/home", Mode: 0o755, Dir: true},
			{Path: "/home/nonroot", Mode: 0o700, Dir: true, UID: NonRootUID, GID: NonRootUID},
			{Path: "/tmp", Mode: os.ModeSticky | 0o777, Dir: true},
			{Path: "/drover-agent", Mode: 0o755, Source: bin},
		},
	}
}

// Busybox is a workload image from a static busybox at bin (Debian's
// busybox-static: /bin/busybox): the binary, a symbolic link in /bin for
// each of its applets (sh, tar, httpd, wget, ...), /tmp and /www.
func Busybox(ctx context.Context, name, bin string) (Image, error) {
	out, err := exec.CommandContext(ctx, bin, "--list").Output()
	if err != nil {
		return Image{}, fmt.Errorf("images: %s --list: %w", bin, err)
	}
	files := []File{
		{Path: "/bin", Mode: 0o755, Dir: true},
		{Path: "/bin/busybox", Mode: 0o755, Source: bin},
		{Path: "/etc", Mode: 0o755, Dir: true},
		{Path: "/etc/passwd", Mode: 0o644, Data: []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")},
		{Path: "/etc/group", Mode: 0o644, Data: []byte("root:x:0:\nnogroup:x:65534:\n")},
		{Path: "/root", Mode: 0o700, Dir: true},
		{Path: "/tmp", Mode: os.ModeSticky | 0o777, Dir: true},
		{Path: "/www", Mode: 0o755, Dir: true},
	}
	seen := map[string]bool{"busybox": true}
	for _, applet := range strings.Fields(string(out)) {
		if seen[applet] || strings.Contains(applet, "/") {
			continue
		}
		seen[applet] = true
		files = append(files, File{Path: "/bin/" + applet, Link: "busybox"})
	}
	if !seen["sh"] || !seen["tar"] {
		return Image{}, fmt.Errorf("images: %s has no sh or tar applet", bin)
	}
	if !seen["printenv"] {
		// Debian's busybox-static is built without printenv, which
		// Alpine's busybox (the base of several upstream e2e images) has
		// and e2e tests run: the same utility as a shell script.
		files = append(files, File{Path: "/bin/printenv", Mode: 0o755, Data: []byte(printenvScript)})
	}
	return Image{
		Name:  name,
		Cmd:   []string{"/bin/sh"},
		Env:   []string{"PATH=/bin"},
		Files: files,
	}, nil
}

// printenvScript is printenv(1): without arguments the whole environment,
// else the value of each named variable on a line of its own; exit status 1
// when one is not set (or not a valid name).
const printenvScript = `#!/bin/sh
[ $# -eq 0 ] && exec env
rc=0
for n in "$@"; do
	case $n in
	''|[0-9]*|*[!A-Za-z0-9_]*) rc=1; continue ;;
	esac
	if eval "[ -n \"\${$n+set}\" ]"; then
		eval "printf '%s\\n' \"\$$n\""
	else
		rc=1
	fi
done
exit $rc
`
