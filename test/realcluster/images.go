package realcluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/drover-dev/drover/test/harness"
	"github.com/drover-dev/drover/test/images"
)

// Image names: under a reserved domain, so that nothing could ever pull
// them.
const (
	PauseImage   = "drover.invalid/pause:e2e"
	AgentImage   = "drover.invalid/drover-agent:e2e"
	BusyboxImage = "drover.invalid/busybox:e2e"
	// AgentImageB is a second build of the agent from the same source,
	// stamped AgentVersionB (AgentImage's is AgentVersion): what an
	// upgraded server ships, for the agent roll-out.
	AgentImageB = "drover.invalid/drover-agent:e2e-b"
	// MissingAgentImage is imported nowhere: pulling it fails.
	MissingAgentImage = "drover.invalid/drover-agent:missing"
)

// The versions the two agent builds report.
const (
	AgentVersion  = "e2e-a"
	AgentVersionB = "e2e-b"
)

// BuildImages builds the static programs the images hold and writes the
// archives into dir: pause, the agent (as deploy/docker/Dockerfile.agent
// builds it) in two builds (AgentImage, AgentImageB) and busybox.
func BuildImages(ctx context.Context, dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	pauseBin, agentBin, agentBinB := filepath.Join(dir, "pause"), filepath.Join(dir, "drover-agent"), filepath.Join(dir, "drover-agent-b")
	if err := BuildStatic(ctx, pauseBin, "./test/images/pause"); err != nil {
		return nil, err
	}
	if err := BuildStaticVersion(ctx, agentBin, "./cmd/agent", AgentVersion); err != nil {
		return nil, err
	}
	if err := BuildStaticVersion(ctx, agentBinB, "./cmd/agent", AgentVersionB); err != nil {
		return nil, err
	}
	busybox, err := images.Busybox(ctx, BusyboxImage, "/bin/busybox")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, img := range []images.Image{images.Pause(PauseImage, pauseBin), images.Agent(AgentImage, agentBin),
		images.Agent(AgentImageB, agentBinB), busybox} {
		path := filepath.Join(dir, strings.ReplaceAll(filepath.Base(img.Name), ":", "_")+".tar")
		if err := images.WriteArchive(path, img); err != nil {
			return nil, err
		}
		out = append(out, path)
	}
	return out, nil
}

// BuildStatic builds package pkg of this module (a path relative to its
// root, e.g. ./test/images/pause) into out as a static, stripped binary
// that runs in an image with nothing else in it.
func BuildStatic(ctx context.Context, out, pkg string) error {
	return BuildStaticVersion(ctx, out, pkg, "")
}

// BuildStaticVersion is BuildStatic with the version stamp (package
// version) set to v, as `make build VERSION=v` does; "" stamps none.
func BuildStaticVersion(ctx context.Context, out, pkg, v string) error {
	ldflags := "-ldflags=-s -w"
	if v != "" {
		ldflags += " -X github.com/drover-dev/drover/pkg/version.version=" + v
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-buildvcs=false", ldflags, "-o", out, pkg)
	cmd.Dir = harness.RepoRoot()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}
