// Package filemode keeps the files of an embedded database private to the
// user that runs PulseStream: they hold sealed webhook secrets, key hashes
// and every tenant's events, and in dev mode the key that opens the
// secrets. SQLite creates its files 0644 (less the umask), and its -wal and
// -shm files take the database file's mode, so creating the database file
// 0600 first makes all three private whatever the umask.
package filemode

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Private is the mode of database files and backups; Dir that of a
// folder PulseStream creates for them.
const (
	Private fs.FileMode = 0o600
	Dir     fs.FileMode = 0o700
)

// PrepareDB makes ready the SQLite database file path before SQLite opens
// it: it creates the folder (0700) and the file (empty, 0600) when absent,
// and takes group and other permissions away from the file and its -wal,
// -shm and -journal files when they exist. It returns the files whose mode
// it changed, for the caller to log.
func PrepareDB(path string) (tightened []string, err error) {
	if err := os.MkdirAll(filepath.Dir(path), Dir); err != nil {
		return nil, fmt.Errorf("create folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, Private)
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, err
		}
		// The umask may only take bits away from 0600; Chmod states it.
		return nil, os.Chmod(path, Private)
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm", path + "-journal"} {
		changed, err := Restrict(p)
		if err != nil {
			return tightened, err
		}
		if changed {
			tightened = append(tightened, p)
		}
	}
	return tightened, nil
}

// CreatePrivate creates the file path, which must not exist, empty and
// 0600 (for a backup that another writer then fills).
func CreatePrivate(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, Private)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Chmod(path, Private)
}

// Restrict removes group and other permissions from path and reports
// whether it changed anything; a missing file is no error.
func Restrict(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if st.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	if err := os.Chmod(path, st.Mode().Perm()&0o700); err != nil {
		return false, fmt.Errorf("restrict %s: %w", path, err)
	}
	return true, nil
}
