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
		// Each set is followed by its elements (none for an empty set),
		// then come the chains, then the rules; runs are collapsed.
		want := []string{"begin", "newtable", "deltable", "newtable"}
		for _, set := range rs.Sets {
			if want[len(want)-1] != "newset" {
				want = append(want, "newset")
			}
			if len(set.Ifnames)+len(set.Prefixes) > 0 {
				want = append(want, "newsetelem")
			}
		}
		want = append(want, "newchain", "newrule", "end")
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
