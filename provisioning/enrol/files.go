package enrol

import (
	"fmt"
	"os"

	"ssu-kiosk/provisioning/pki"
)

// WriteFileAtomic writes data to path so that a reader sees the old file or the new one, never a
// part, with mode from the start (so a key is never readable by others, not even briefly): it is
// pki.WriteFileAtomic, the project's one atomic write.
func WriteFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := pki.WriteFileAtomic(path, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
