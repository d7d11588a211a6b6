package postgres

import (
	"context"
	"os"
	"testing"
	"time"
)

// TestServer: the server starts as a user other than root, answers with
// the password on 127.0.0.1 only, refuses a wrong password, and survives a
// restart and a kill with its data.
func TestServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s := StartT(t)
	db := s.NewDatabaseT(t)
	c, err := s.Connect(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	var addr, usr string
	var super bool
	if err := c.QueryRow(ctx, `SELECT host(inet_server_addr()), current_user, usesuper FROM pg_user WHERE usename = current_user`).Scan(&addr, &usr, &super); err != nil {
		t.Fatal(err)
	}
	if addr != "127.0.0.1" || usr != Superuser || !super {
		t.Errorf("connected to %s as %s (superuser %v), want 127.0.0.1 as %s, a superuser", addr, usr, super, Superuser)
	}
	if _, err := c.Exec(ctx, `CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	if os.Geteuid() == 0 {
		st, err := os.Stat("/proc/" + itoa(s.Pid()))
		if err != nil {
			t.Fatal(err)
		}
		if uid := statUID(st); uid == 0 {
			t.Error("postgres runs as root")
		}
	}

	if c, err := s.connect(ctx, db, "wrong"); err == nil {
		c.Close(ctx)
		t.Error("a wrong password connected")
	}

	for _, kill := range []bool{false, true} {
		if err := s.Restart(ctx, kill); err != nil {
			t.Fatalf("restart (kill %v): %v", kill, err)
		}
		c, err := s.Connect(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		var v string
		if err := c.QueryRow(ctx, `SELECT v FROM kept`).Scan(&v); err != nil || v != "x" {
			t.Errorf("after restart (kill %v): %q, %v", kill, v, err)
		}
		c.Close(ctx)
	}
}
