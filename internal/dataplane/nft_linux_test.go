package dataplane

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// TestWriteRulesetBatch records the netlink batch (no kernel needed) and
// checks the atomic replace: one batch that adds, deletes and re-adds the
// table before any content, with the fingerprint on the first rule.
func TestWriteRulesetBatch(t *testing.T) {
	var msgs []netlink.Message
	c, err := nftables.New(nftables.WithTestDial(func(req []netlink.Message) ([]netlink.Message, error) {
		msgs = append(msgs, req...)
		return req, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	v := builderVPC()
	rs := buildRuleset(v)
	fp := rs.fingerprint()
	if err := writeRuleset(c, rs, fp); err != nil {
		t.Fatal(err)
	}
	const subsys = unix.NFNL_SUBSYS_NFTABLES << 8
	name := map[netlink.HeaderType]string{
		unix.NFNL_MSG_BATCH_BEGIN:        "begin",
		unix.NFNL_MSG_BATCH_END:          "end",
		subsys | unix.NFT_MSG_NEWTABLE:   "newtable",
		subsys | unix.NFT_MSG_DELTABLE:   "deltable",
		subsys | unix.NFT_MSG_NEWSET:     "newset",
		subsys | unix.NFT_MSG_NEWSETELEM: "newsetelem",
		subsys | unix.NFT_MSG_NEWCHAIN:   "newchain",
		subsys | unix.NFT_MSG_NEWRULE:    "newrule",
	}
	var kinds []string
	var firstRule []byte
	for _, m := range msgs {
		k, ok := name[m.Header.Type]
		if !ok {
			k = "other"
		}
		if k == "newrule" && firstRule == nil {
			firstRule = m.Data
		}
		if n := len(kinds); n > 0 && kinds[n-1] == k && (k == "newrule" || k == "newchain" || k == "newset" || k == "newsetelem") {
			continue // collapse runs
		}
		kinds = append(kinds, k)
	}
	t.Run("order", func(t *testing.T) {
		// The chains come first (verdict maps name them), then each set
		// followed by its elements (none for an empty set), then the
		// rules; runs are collapsed.
		want := []string{"begin", "newtable", "deltable", "newtable", "newchain"}
		for _, set := range rs.Sets {
			if want[len(want)-1] != "newset" {
				want = append(want, "newset")
			}
			if len(set.Ifnames)+len(set.Prefixes)+len(set.Marks) > 0 {
				want = append(want, "newsetelem")
			}
		}
		want = append(want, "newrule", "end")
		if diff := cmp.Diff(want, kinds); diff != "" {
			t.Errorf("batch (-want +got):\n%s", diff)
		}
	})
	t.Run("fingerprint on first rule", func(t *testing.T) {
		if !bytes.Contains(firstRule, fp) {
			t.Error("first rule lacks the fingerprint user data")
		}
	})
}

func TestElementChunks(t *testing.T) {
	plain := func(n int) []nftables.SetElement { return make([]nftables.SetElement, n) }
	// intervals of start/end pairs, the first end landing exactly on the
	// chunk boundary.
	intervals := make([]nftables.SetElement, 2*elementsPerMessage)
	for i := range intervals {
		intervals[i].IntervalEnd = i%2 == 1
	}
	shifted := append(plain(1), intervals...)
	tests := []struct {
		name  string
		elems []nftables.SetElement
		want  []int
	}{
		{"none", nil, nil},
		{"one message", plain(elementsPerMessage), []int{elementsPerMessage}},
		{"one more", plain(elementsPerMessage + 1), []int{elementsPerMessage, 1}},
		{"pairs aligned", intervals, []int{elementsPerMessage, elementsPerMessage}},
		{"an end is never split from its start", shifted, []int{elementsPerMessage + 1, elementsPerMessage}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []int
			total := 0
			for _, c := range elementChunks(tc.elems) {
				got = append(got, len(c))
				total += len(c)
				if len(c) > 0 && c[0].IntervalEnd {
					t.Error("a chunk starts with an interval end")
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" || total != len(tc.elems) {
				t.Errorf("chunk sizes (-want +got):\n%s", diff)
			}
		})
	}
}
