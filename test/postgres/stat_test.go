package postgres

import (
	"os"
	"strconv"
	"syscall"
)

func itoa(n int) string { return strconv.Itoa(n) }

func statUID(st os.FileInfo) uint32 { return st.Sys().(*syscall.Stat_t).Uid }
