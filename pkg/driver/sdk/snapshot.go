package sdk

import "errors"

// MaxSnapshotName is the longest snapshot name.
const MaxSnapshotName = 63

// ErrSnapshotName is the error of CheckSnapshotName; its message is safe to
// show to a client.
var ErrSnapshotName = errors.New("snapshot name must be 1-63 of a-z A-Z 0-9 . _ -, starting with a letter or digit")

// CheckSnapshotName is the rule for etcd snapshot names, shared by the
// server (which refuses any other name before it calls a driver) and
// drivers (which may use the name as a file name as it is: it cannot hold
// a path separator, cannot be "." or "..", and cannot start with "-").
// It returns nil or ErrSnapshotName.
func CheckSnapshotName(name string) error {
	if name == "" || len(name) > MaxSnapshotName || !alnum(name[0]) {
		return ErrSnapshotName
	}
	for i := 1; i < len(name); i++ {
		if c := name[i]; !alnum(c) && c != '.' && c != '_' && c != '-' {
			return ErrSnapshotName
		}
	}
	return nil
}

func alnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
