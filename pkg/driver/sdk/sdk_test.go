package sdk

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/drover-dev/drover/pkg/driver/driverpb"
)

func TestDriverSDKListen(t *testing.T) {
	for addr, ok := range map[string]bool{
		"0": false, "127.0.0.1:0": true, "localhost:0": true, "[::1]:0": true, "0.0.0.0:1234": false, "10.0.0.1:80": false,
		"unix:" + filepath.Join(t.TempDir(), "s.sock"): true, "unix:relative.sock": false, "nonsense": false,
	} {
		if err := CheckAddr(addr); (err == nil) != ok {
			t.Errorf("CheckAddr(%q) = %v, want ok=%v", addr, err, ok)
		}
		ln, err := Listen(addr)
		if (err == nil) != ok {
			t.Errorf("Listen(%q) = %v, want ok=%v", addr, err, ok)
		}
		if ln != nil {
			ln.Close()
		}
	}
}

type minimal struct {
	UnimplementedVersionAccess
	UnimplementedClusterSizeAccess
	UnimplementedETCD
	NoLegacyServiceAccount
	NoK8SCapabilities
}

func (minimal) GetDriverCreateOptions(context.Context) (*DriverFlags, error) { return nil, nil }
func (minimal) GetDriverUpdateOptions(context.Context) (*DriverFlags, error) { return nil, nil }
func (minimal) Create(context.Context, *DriverOptions, *ClusterInfo) (*ClusterInfo, error) {
	return nil, errors.New("quota exceeded")
}
func (minimal) Update(context.Context, *ClusterInfo, *DriverOptions) (*ClusterInfo, error) {
	return nil, nil
}
func (minimal) PostCheck(_ context.Context, i *ClusterInfo) (*ClusterInfo, error) { return i, nil }
func (minimal) Remove(context.Context, *ClusterInfo) error                        { return nil }
func (minimal) GetCapabilities(context.Context) (*Capabilities, error)            { return nil, nil }

// The server answers nil results with empty messages, ErrNotImplemented
// with Unimplemented, and other errors with Unknown and their text.
func TestDriverSDKServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sock := filepath.Join(t.TempDir(), "d.sock")
	ln, err := Listen("unix:" + sock)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- NewServer(minimal{}).Serve(ctx, ln) }()
	conn, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := driverpb.NewDriverClient(conn)
	if caps, err := c.GetCapabilities(ctx, &driverpb.Empty{}); err != nil || caps == nil {
		t.Errorf("GetCapabilities = %v, %v", caps, err)
	}
	if _, err := c.Update(ctx, &driverpb.UpdateRequest{}); err != nil {
		t.Errorf("Update returning nil: %v", err)
	}
	for name, call := range map[string]func() error{
		"GetVersion": func() error { _, err := c.GetVersion(ctx, &driverpb.ClusterInfo{}); return err },
		"ETCDSave":   func() error { _, err := c.ETCDSave(ctx, &driverpb.SaveETCDSnapshotRequest{}); return err },
		"ETCDRestore": func() error {
			_, err := c.ETCDRestore(ctx, &driverpb.RestoreETCDSnapshotRequest{})
			return err
		},
		"SetClusterSize": func() error { _, err := c.SetClusterSize(ctx, &driverpb.SetClusterSizeRequest{}); return err },
	} {
		if err := call(); status.Code(err) != codes.Unimplemented {
			t.Errorf("%s: %v, want Unimplemented", name, err)
		}
	}
	_, err = c.Create(ctx, &driverpb.CreateRequest{})
	if st, _ := status.FromError(err); st.Code() != codes.Unknown || st.Message() != "quota exceeded" {
		t.Errorf("Create: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

func TestDriverSDKGetters(t *testing.T) {
	o := &DriverOptions{BoolOptions: map[string]bool{"enableAlpha": false}, IntOptions: map[string]int64{"disk-size-gb": 7},
		StringSliceOptions: map[string]*StringSlice{"zones": {Value: []string{"a"}}}}
	if v := GetBoolPtr(o, "enable-alpha"); v == nil || *v {
		t.Errorf("GetBoolPtr by kebab name = %v", v)
	}
	if GetBoolPtr(o, "other") != nil || GetIntPtr(nil, "x") != nil {
		t.Error("an unset option is not nil")
	}
	if GetInt(o, "diskSizeGb", "disk-size-gb") != 7 || GetStringSlice(o, "zones")[0] != "a" || GetString(nil, "x") != "" {
		t.Error("getters")
	}
}
