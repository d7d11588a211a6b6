package sdk

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

// Server serves a Driver over gRPC.
type Server struct {
	driverpb.UnimplementedDriverServer
	d Driver
}

// NewServer wraps d.
func NewServer(d Driver) *Server { return &Server{d: d} }

// Listen parses the launcher's argument and listens on it: a bare port
// ("40123") means 127.0.0.1:40123, "unix:/path" a unix socket; "host:port"
// is accepted for loopback hosts only.
func Listen(addr string) (net.Listener, error) {
	network, address, err := parseAddr(addr)
	if err != nil {
		return nil, err
	}
	return net.Listen(network, address)
}

// CheckAddr returns the error Listen would give addr for its form, without
// listening: a driver's command line can refuse a word that is no address
// before it starts.
func CheckAddr(addr string) error {
	_, _, err := parseAddr(addr)
	return err
}

// parseAddr is Listen's reading of addr.
func parseAddr(addr string) (network, address string, err error) {
	switch {
	case strings.HasPrefix(addr, "unix:"):
		path := strings.TrimPrefix(strings.TrimPrefix(addr, "unix:"), "//")
		if !strings.HasPrefix(path, "/") {
			return "", "", fmt.Errorf("unix socket path %q must be absolute", path)
		}
		return "unix", path, nil
	case isPort(addr):
		return "tcp", net.JoinHostPort("127.0.0.1", addr), nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("listen address %q is neither a port, host:port nor unix:/path", addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return "", "", fmt.Errorf("listen address %q is not on loopback", addr)
	}
	return "tcp", addr, nil
}

func isPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// Serve serves on ln until ctx ends, then stops gracefully (at most 5 s).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	g := grpc.NewServer(grpc.MaxRecvMsgSize(16 << 20))
	driverpb.RegisterDriverServer(g, s)
	stop := context.AfterFunc(ctx, func() {
		done := make(chan struct{})
		go func() { g.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			g.Stop()
		}
	})
	defer stop()
	err := g.Serve(ln)
	if errors.Is(err, grpc.ErrServerStopped) || ctx.Err() != nil {
		return nil
	}
	return err
}

// ServeOrDie listens on addr (see Listen) and serves until SIGTERM or
// SIGINT; it exits the program with status 1 when it cannot.
func (s *Server) ServeOrDie(addr string) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	ln, err := Listen(addr)
	if err == nil {
		err = s.Serve(ctx, ln)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "driver: %v\n", err)
		os.Exit(1)
	}
}

// rpcErr turns a driver's error into a gRPC status: ErrNotImplemented is
// Unimplemented, a status error stays as it is, anything else is Unknown
// with the error's text.
func rpcErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, ErrNotImplemented) {
		return status.Error(codes.Unimplemented, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Unknown, err.Error())
}

// answer returns v, or an empty message when the driver returned nil.
func answer[T proto.Message](v T, err error, empty T) (T, error) {
	if err != nil {
		return empty, rpcErr(err)
	}
	if any(v) == nil || !v.ProtoReflect().IsValid() {
		return empty, nil
	}
	return v, nil
}

func (s *Server) GetDriverCreateOptions(ctx context.Context, _ *driverpb.Empty) (*DriverFlags, error) {
	v, err := s.d.GetDriverCreateOptions(ctx)
	return answer(v, err, &DriverFlags{})
}

func (s *Server) GetDriverUpdateOptions(ctx context.Context, _ *driverpb.Empty) (*DriverFlags, error) {
	v, err := s.d.GetDriverUpdateOptions(ctx)
	return answer(v, err, &DriverFlags{})
}

func (s *Server) Create(ctx context.Context, r *driverpb.CreateRequest) (*ClusterInfo, error) {
	v, err := s.d.Create(ctx, orEmpty(r.GetDriverOptions()), orEmptyInfo(r.GetClusterInfo()))
	return answer(v, err, &ClusterInfo{})
}

func (s *Server) Update(ctx context.Context, r *driverpb.UpdateRequest) (*ClusterInfo, error) {
	v, err := s.d.Update(ctx, orEmptyInfo(r.GetClusterInfo()), orEmpty(r.GetDriverOptions()))
	return answer(v, err, &ClusterInfo{})
}

func (s *Server) PostCheck(ctx context.Context, info *ClusterInfo) (*ClusterInfo, error) {
	v, err := s.d.PostCheck(ctx, info)
	return answer(v, err, &ClusterInfo{})
}

func (s *Server) Remove(ctx context.Context, info *ClusterInfo) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.Remove(ctx, info))
}

func (s *Server) GetVersion(ctx context.Context, info *ClusterInfo) (*KubernetesVersion, error) {
	v, err := s.d.GetVersion(ctx, info)
	return answer(v, err, &KubernetesVersion{})
}

func (s *Server) SetVersion(ctx context.Context, r *driverpb.SetVersionRequest) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.SetVersion(ctx, orEmptyInfo(r.GetInfo()), r.GetVersion()))
}

func (s *Server) GetClusterSize(ctx context.Context, info *ClusterInfo) (*NodeCount, error) {
	v, err := s.d.GetClusterSize(ctx, info)
	return answer(v, err, &NodeCount{})
}

func (s *Server) SetClusterSize(ctx context.Context, r *driverpb.SetClusterSizeRequest) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.SetClusterSize(ctx, orEmptyInfo(r.GetInfo()), r.GetCount()))
}

func (s *Server) GetCapabilities(ctx context.Context, _ *driverpb.Empty) (*Capabilities, error) {
	v, err := s.d.GetCapabilities(ctx)
	return answer(v, err, &Capabilities{})
}

func (s *Server) RemoveLegacyServiceAccount(ctx context.Context, info *ClusterInfo) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.RemoveLegacyServiceAccount(ctx, info))
}

func (s *Server) ETCDSave(ctx context.Context, r *driverpb.SaveETCDSnapshotRequest) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.ETCDSave(ctx, orEmptyInfo(r.GetInfo()), orEmpty(r.GetDriverOptions()), r.GetSnapshotName()))
}

func (s *Server) ETCDRestore(ctx context.Context, r *driverpb.RestoreETCDSnapshotRequest) (*ClusterInfo, error) {
	v, err := s.d.ETCDRestore(ctx, orEmptyInfo(r.GetInfo()), orEmpty(r.GetDriverOptions()), r.GetSnapshotName())
	return answer(v, err, &ClusterInfo{})
}

func (s *Server) ETCDRemoveSnapshot(ctx context.Context, r *driverpb.RemoveETCDSnapshotRequest) (*driverpb.Empty, error) {
	return &driverpb.Empty{}, rpcErr(s.d.ETCDRemoveSnapshot(ctx, orEmptyInfo(r.GetInfo()), orEmpty(r.GetDriverOptions()), r.GetSnapshotName()))
}

func (s *Server) GetK8SCapabilities(ctx context.Context, o *DriverOptions) (*K8SCapabilities, error) {
	v, err := s.d.GetK8SCapabilities(ctx, o)
	return answer(v, err, &K8SCapabilities{})
}

func orEmpty(o *DriverOptions) *DriverOptions {
	if o == nil {
		return &DriverOptions{}
	}
	return o
}

func orEmptyInfo(i *ClusterInfo) *ClusterInfo {
	if i == nil {
		return &ClusterInfo{}
	}
	return i
}
