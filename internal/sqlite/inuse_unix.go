//go:build unix

package sqlite

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// shmDMSByte is the "dead man switch" byte of SQLite's unix VFS in the -shm
// file: every connection to a WAL database holds a shared lock on it for
// as long as it is open (sqlite3.c: UNIX_SHM_DMS).
const shmDMSByte = 128

// inUse reports whether another process has the database at path open,
// by testing for a lock on the -shm file's DMS byte. Locks of this process
// do not count (POSIX record locks are per process).
func inUse(path string) (bool, error) {
	f, err := os.OpenFile(path+"-shm", os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: shmDMSByte, Len: 1}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != syscall.F_UNLCK, nil
}
