package leasesbench

import (
	"bufio"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pxekit/pxekit/dhcp"
)

// The two files hold the same leases: the bbolt file loads every one
// back through the dhcp package, the CSV has Kea 2.2's header and one
// line per lease with the same address, MAC, expiry and hostname.
func TestWriteLeases(t *testing.T) {
	dir := t.TempDir()
	const n = 2000
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	db, csv := filepath.Join(dir, "leases.db"), filepath.Join(dir, "leases.csv")
	if err := WriteBolt(db, n, exp); err != nil {
		t.Fatal(err)
	}
	if err := WriteKeaCSV(csv, n, exp); err != nil {
		t.Fatal(err)
	}
	st, err := dhcp.OpenBoltStore(db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ls, err := st.Load()
	if err != nil || len(ls) != n {
		t.Fatalf("loaded %d leases, %v", len(ls), err)
	}
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	if sc.Text() != keaHeader {
		t.Fatalf("header %q", sc.Text())
	}
	i := 0
	for ; sc.Scan(); i++ {
		l := ls[i]
		want := strings.Join([]string{l.IP.String(), l.MAC.String(), "", "86400", itoa(l.Expiry.Unix()), "1", "0", "0", l.Hostname, "0", ""}, ",")
		if sc.Text() != want || l.State != dhcp.Bound || !l.Expiry.Equal(exp) {
			t.Fatalf("line %d %q, bbolt lease %+v", i, sc.Text(), l)
		}
	}
	if i != n || ls[0].IP.String() != PoolStart {
		t.Fatalf("%d CSV lines, first lease %s", i, ls[0].IP)
	}
}

func TestMedian(t *testing.T) {
	if m := median([]time.Duration{3, 1, 2}); m != 2 {
		t.Errorf("median %v", m)
	}
	if m := median([]int64(nil)); m != 0 {
		t.Errorf("median of nothing %v", m)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
