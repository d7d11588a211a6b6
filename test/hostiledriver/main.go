// Command hostiledriver is a cluster driver that tries what a malicious one
// would: read the server's secrets, write where it should not, signal the
// server, become root again. The sandbox tests (pkg/driver, test/e2e) build
// it, register it as a driver and read its report.
//
// Create takes the targets in its options, newline-separated: "read"
// (files to read, directories to list), "write" (files to create or append
// to) and "signal" (pids to send signal 0); in paths, $EXE is the driver's
// own binary, $RUNDIR the directory holding it, $HOME and $TMPDIR what the
// environment says. It answers with the report as
// JSON in ClusterInfo.metadata["report"] and writes it to $HOME/report.json
// too (the end-to-end test runs Create through the server, which keeps the
// answer sealed). Every other call fails.
//
// It must never be shipped or registered outside a test: it exists to
// attack the server that runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/drover-dev/drover/pkg/driver/sdk"
)

// Report is what the driver found.
type Report struct {
	UID        int    `json:"uid"`
	GID        int    `json:"gid"`
	Groups     []int  `json:"groups"`
	CapEff     string `json:"capEff"`
	NoNewPrivs string `json:"noNewPrivs"`
	// Foreign lists the processes in /proc that belong to other users.
	Foreign []string         `json:"foreign"`
	Setuid0 Probe            `json:"setuid0"`
	Reads   map[string]Probe `json:"reads"`
	Writes  map[string]Probe `json:"writes"`
	Signals map[string]Probe `json:"signals"`
}

// Probe is one attempt: OK, or the error and its errno's name.
type Probe struct {
	OK    bool   `json:"ok"`
	Bytes int64  `json:"bytes,omitempty"`
	Errno string `json:"errno,omitempty"`
	Err   string `json:"err,omitempty"`
}

func fail(err error) Probe {
	p := Probe{Err: err.Error()}
	var errno syscall.Errno
	if errors.As(err, &errno) {
		p.Errno = unix.ErrnoName(errno)
	}
	return p
}

func main() { sdk.NewServer(hostile{}).ServeOrDie(os.Args[1]) }

type hostile struct {
	sdk.UnimplementedVersionAccess
	sdk.UnimplementedClusterSizeAccess
	sdk.UnimplementedETCD
	sdk.NoLegacyServiceAccount
	sdk.NoK8SCapabilities
}

func (hostile) GetDriverCreateOptions(context.Context) (*sdk.DriverFlags, error) {
	return &sdk.DriverFlags{Options: map[string]*sdk.Flag{
		"read":   {Type: sdk.StringType, Usage: "files to read and directories to list, one a line"},
		"write":  {Type: sdk.StringType, Usage: "files to create or append to, one a line"},
		"signal": {Type: sdk.StringType, Usage: "pids to send signal 0, one a line"},
	}}, nil
}

func (hostile) GetDriverUpdateOptions(context.Context) (*sdk.DriverFlags, error) {
	return nil, sdk.ErrNotImplemented
}

func (hostile) GetCapabilities(context.Context) (*sdk.Capabilities, error) {
	return &sdk.Capabilities{}, nil
}

// Create probes and reports.
func (hostile) Create(_ context.Context, o *sdk.DriverOptions, _ *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	r := Report{UID: os.Getuid(), GID: os.Getgid(), Reads: map[string]Probe{}, Writes: map[string]Probe{}, Signals: map[string]Probe{}}
	r.Groups, _ = os.Getgroups()
	if r.Groups == nil {
		r.Groups = []int{}
	}
	r.CapEff, r.NoNewPrivs = statusField("CapEff"), statusField("NoNewPrivs")
	r.Foreign = foreignProcesses()
	if err := syscall.Setuid(0); err != nil {
		r.Setuid0 = fail(err)
	} else {
		r.Setuid0 = Probe{OK: true}
	}
	for _, p := range lines(sdk.GetString(o, "read")) {
		r.Reads[p] = read(expand(p))
	}
	for _, p := range lines(sdk.GetString(o, "write")) {
		r.Writes[p] = write(expand(p))
	}
	for _, s := range lines(sdk.GetString(o, "signal")) {
		pid, err := strconv.Atoi(s)
		if err == nil {
			err = syscall.Kill(pid, 0)
		}
		if err != nil {
			r.Signals[s] = fail(err)
		} else {
			r.Signals[s] = Probe{OK: true}
		}
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(os.Getenv("HOME"), "report.json"), b, 0o600); err != nil {
		return nil, err
	}
	return &sdk.ClusterInfo{Metadata: map[string]string{"report": string(b)}}, nil
}

func (hostile) Update(context.Context, *sdk.ClusterInfo, *sdk.DriverOptions) (*sdk.ClusterInfo, error) {
	return nil, errors.New("hostile driver: no updates")
}

func (hostile) PostCheck(context.Context, *sdk.ClusterInfo) (*sdk.ClusterInfo, error) {
	return nil, errors.New("hostile driver: there is no cluster")
}

func (hostile) Remove(context.Context, *sdk.ClusterInfo) error { return nil }

// lines splits s into its non-empty lines, with $EXE, $RUNDIR, $HOME and
// $TMPDIR expanded (the report keys on the lines as given).
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

func expand(p string) string {
	exe, _ := os.Executable()
	return os.Expand(p, func(v string) string {
		switch v {
		case "EXE":
			return exe
		case "RUNDIR":
			return filepath.Dir(exe)
		case "HOME", "TMPDIR":
			return os.Getenv(v)
		}
		return "$" + v
	})
}

// read reads a file to its end, or lists a directory.
func read(p string) Probe {
	f, err := os.Open(p)
	if err != nil {
		return fail(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fail(err)
	}
	if fi.IsDir() {
		names, err := f.Readdirnames(-1)
		if err != nil {
			return fail(err)
		}
		return Probe{OK: true, Bytes: int64(len(names))}
	}
	n, err := io.Copy(io.Discard, io.LimitReader(f, 1<<30))
	if err != nil {
		return fail(err)
	}
	return Probe{OK: true, Bytes: n}
}

// write appends a line to p, creating it.
func write(p string) Probe {
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fail(err)
	}
	_, err = f.WriteString("hostile driver was here\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fail(err)
	}
	return Probe{OK: true}
}

// statusField is a field of /proc/self/status.
func statusField(name string) string {
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, name+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// foreignProcesses lists the processes /proc shows that are not this
// driver user's.
func foreignProcesses() []string {
	out := []string{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat(filepath.Join("/proc", e.Name()), &st) != nil {
			continue
		}
		if int(st.Uid) != os.Getuid() {
			out = append(out, e.Name())
		}
	}
	return out
}
