package pki

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrExists is returned by WritePair when a file it would write is there already and overwrite is false.
var ErrExists = errors.New("already exists")

// WritePair writes a certificate (mode 0644) and its key (mode 0600), each atomically (a temporary file
// in the same directory, fsync, rename), making the directory (0755) if needed. Unless overwrite, it
// refuses with ErrExists, before writing anything, when either file is there. An empty certFile or
// keyFile is skipped.
func WritePair(certFile string, certPEM []byte, keyFile string, keyPEM []byte, overwrite bool) error {
	files := []struct {
		path string
		data []byte
		mode os.FileMode
	}{{keyFile, keyPEM, 0o600}, {certFile, certPEM, 0o644}}
	if !overwrite {
		for _, f := range files {
			if f.path == "" {
				continue
			}
			if _, err := os.Lstat(f.path); err == nil {
				return fmt.Errorf("write %s: %w (pass --force to replace it)", f.path, ErrExists)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("write %s: %w", f.path, err)
			}
		}
	}
	for _, f := range files {
		if f.path == "" {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
		if err := writeFile(f.path, f.data, f.mode, overwrite); err != nil {
			return fmt.Errorf("write %s: %w", f.path, err)
		}
	}
	return nil
}

// WriteFiles writes the issued certificate and key as dir/name.crt and dir/name.key (0600), replacing
// what is there.
func (is *Issued) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := WritePair(certFile, is.CertPEM, keyFile, is.KeyPEM, true); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// WriteFiles writes the CA certificate as dir/name.crt and its key as dir/name.key (0600), replacing
// what is there.
func (ca *CA) WriteFiles(dir, name string) (certFile, keyFile string, err error) {
	keyPEM, err := ca.KeyPEM()
	if err != nil {
		return "", "", fmt.Errorf("write ca: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := WritePair(certFile, ca.CertPEM(), keyFile, keyPEM, true); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

// WriteFileAtomic replaces path with data so that a crash leaves either the old or the new file: a
// temporary file in the same directory, created 0600 and then given mode, synced, renamed over path,
// and the directory synced.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	return writeFile(path, data, mode, true)
}

// writeFile is WriteFileAtomic; unless replace, the temporary file is linked to path, which fails with
// ErrExists if anything is there, rather than renamed over it.
func writeFile(path string, data []byte, mode os.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(mode); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if replace {
		err = os.Rename(tmp, path)
	} else if err = os.Link(tmp, path); err == nil {
		os.Remove(tmp)
	} else if errors.Is(err, fs.ErrExist) {
		err = ErrExists
	}
	if err != nil {
		return err
	}
	if d, derr := os.Open(dir); derr == nil {
		_ = d.Sync() // make the rename durable; not every file system can sync a directory
		d.Close()
	}
	return nil
}
