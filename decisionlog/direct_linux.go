package decisionlog

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// openDirect opens f's file again for writes around the page cache
// (O_DIRECT), or returns nil when its file system cannot take them at
// blockSize's alignment, or does not say (statx(2) with STATX_DIOALIGN,
// Linux 6.1 and later). It opens the file f has open (through /proc), not
// whatever its path names by then.
func openDirect(f *os.File) *os.File {
	d, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(int(f.Fd())), os.O_WRONLY|unix.O_DIRECT, 0)
	if err != nil {
		return nil
	}
	var st unix.Statx_t
	err = unix.Statx(int(d.Fd()), "", unix.AT_EMPTY_PATH, unix.STATX_DIOALIGN, &st)
	if err != nil || st.Mask&unix.STATX_DIOALIGN == 0 || !divides(st.Dio_offset_align) || !divides(st.Dio_mem_align) {
		_ = d.Close()
		return nil
	}
	return d
}

// divides says whether direct writes aligned to blockSize are aligned to
// a, which the kernel reports as 0 when it cannot write the file directly.
func divides(a uint32) bool { return a != 0 && blockSize%a == 0 }
