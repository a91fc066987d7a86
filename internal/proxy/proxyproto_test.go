package proxy

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var cmpHeader = []cmp.Option{cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b }), cmpopts.EquateEmpty()}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const sigHex = "0d0a0d0a000d0a515549540a"

func TestMarshalV2(t *testing.T) {
	tests := []struct {
		name string
		h    Header
		want string // hex
	}{
		{
			name: "tcp4 with AWS endpoint TLV",
			h: *NewProxyHeader(false, netip.MustParseAddrPort("10.0.1.5:40000"),
				netip.MustParseAddrPort("10.0.2.9:443"), "vpce-0a1b2c3d4e5f60718"),
			// 12 address bytes + 3 TLV header + 1 subtype + 22 ID = 38 = 0x26
			want: sigHex + "21 11 0026" + "0a000105 0a000209 9c40 01bb" +
				"ea 0017 01" + hex.EncodeToString([]byte("vpce-0a1b2c3d4e5f60718")),
		},
		{
			name: "udp6 without TLVs",
			h: *NewProxyHeader(true, netip.MustParseAddrPort("[fd00::1]:53"),
				netip.MustParseAddrPort("[fd00::2]:5353"), ""),
			want: sigHex + "21 22 0024" + "fd000000000000000000000000000001 fd000000000000000000000000000002 0035 14e9",
		},
		{
			name: "local unspec with noop TLV",
			h:    Header{Command: CommandLocal, TLVs: []TLV{{Type: 0x04, Value: []byte{0, 0}}}},
			want: sigHex + "20 00 0005 04 0002 0000",
		},
		{
			name: "mapped v4 source becomes tcp4",
			h: *NewProxyHeader(false, netip.MustParseAddrPort("[::ffff:127.0.0.1]:1"),
				netip.MustParseAddrPort("127.0.0.2:2"), ""),
			want: sigHex + "21 11 000c 7f000001 7f000002 0001 0002",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.h.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if want := mustHex(t, tt.want); !bytes.Equal(got, want) {
				t.Fatalf("Marshal =\n%x\nwant\n%x", got, want)
			}
			back, err := ParseV2(bufio.NewReader(bytes.NewReader(got)))
			if err != nil {
				t.Fatalf("ParseV2(Marshal): %v", err)
			}
			if d := cmp.Diff(&tt.h, back, cmpHeader...); d != "" {
				t.Fatalf("round trip (-want +got):\n%s", d)
			}
		})
	}
}

func TestMarshalV2Errors(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:1")
	v6 := netip.MustParseAddrPort("[fd00::1]:1")
	tests := []struct {
		name string
		h    Header
		want error
	}{
		{"bad command", Header{Command: 2, Protocol: ProtocolTCP4, Source: v4, Destination: v4}, ErrBadCommand},
		{"unix family", Header{Command: CommandProxy, Protocol: 0x31}, ErrBadFamily},
		{"v6 address in tcp4", Header{Command: CommandProxy, Protocol: ProtocolTCP4, Source: v6, Destination: v4}, ErrBadAddress},
		{"v4 address in tcp6", Header{Command: CommandProxy, Protocol: ProtocolTCP6, Source: v4, Destination: v6}, ErrBadAddress},
		{"addresses with unspec", Header{Command: CommandLocal, Source: v4}, ErrBadAddress},
		{"raw endpoint TLV", Header{Command: CommandLocal, TLVs: []TLV{{Type: 0xEA, Value: []byte{1, 'x'}}}}, ErrBadTLV},
		{"too large", Header{Command: CommandLocal, TLVs: []TLV{{Type: 1, Value: make([]byte, 0xFFFF)}}}, ErrHeaderTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.h.Marshal(); !errors.Is(err, tt.want) {
				t.Fatalf("Marshal error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestParseV2(t *testing.T) {
	tcp4 := sigHex + "21 11 000c 0a000105 0a000209 9c40 01bb"
	tests := []struct {
		name    string
		in      string // hex
		want    *Header
		wantErr error
		rest    string // bytes left unread after the header
	}{
		{
			name: "tcp4 leaves payload unread",
			in:   tcp4 + hex.EncodeToString([]byte("GET /")),
			want: &Header{Command: CommandProxy, Protocol: ProtocolTCP4,
				Source: netip.MustParseAddrPort("10.0.1.5:40000"), Destination: netip.MustParseAddrPort("10.0.2.9:443")},
			rest: "GET /",
		},
		{
			name: "AWS TLV among others",
			in:   sigHex + "21 11 001a 0a000105 0a000209 9c40 01bb" + "04 0000" + "ea 0004 01 766963" + "ea 0001 02",
			want: &Header{Command: CommandProxy, Protocol: ProtocolTCP4,
				Source: netip.MustParseAddrPort("10.0.1.5:40000"), Destination: netip.MustParseAddrPort("10.0.2.9:443"),
				EndpointID: "vic", TLVs: []TLV{{Type: 4}, {Type: 0xEA, Value: []byte{2}}}},
		},
		{name: "empty input", in: "", wantErr: ErrTruncated},
		{name: "v1 text header", in: hex.EncodeToString([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")), wantErr: ErrBadSignature},
		{name: "short garbage", in: "0d0a0d0b", wantErr: ErrBadSignature},
		{name: "truncated signature", in: "0d0a0d0a00", wantErr: ErrTruncated},
		{name: "version 1 nibble", in: sigHex + "11 11 000c", wantErr: ErrBadVersion},
		{name: "command 2", in: sigHex + "22 11 000c", wantErr: ErrBadCommand},
		{name: "unix family", in: sigHex + "21 31 00d8", wantErr: ErrBadFamily},
		{name: "unknown transport", in: sigHex + "21 13 000c", wantErr: ErrBadFamily},
		{name: "length below address block", in: sigHex + "21 21 0010", wantErr: ErrLengthOverrun},
		{name: "length overruns input", in: sigHex + "21 11 0010 0a000105 0a000209 9c40 01bb", wantErr: ErrTruncated},
		{name: "TLV header cut", in: sigHex + "21 11 000e 0a000105 0a000209 9c40 01bb 0400", wantErr: ErrBadTLV},
		{name: "TLV value overruns", in: sigHex + "21 11 0010 0a000105 0a000209 9c40 01bb 04 0002 00", wantErr: ErrBadTLV},
		{name: "empty endpoint ID", in: sigHex + "21 11 0010 0a000105 0a000209 9c40 01bb ea 0001 01", wantErr: ErrBadTLV},
		{name: "duplicate endpoint ID", in: sigHex + "21 11 0014 0a000105 0a000209 9c40 01bb ea 0002 01 61 ea 0002 01 62", wantErr: ErrBadTLV},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(mustHex(t, tt.in)))
			got, err := ParseV2(r)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("ParseV2 error = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseV2: %v", err)
			}
			if d := cmp.Diff(tt.want, got, cmpHeader...); d != "" {
				t.Fatalf("ParseV2 (-want +got):\n%s", d)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != tt.rest {
				t.Fatalf("left unread %q, want %q", rest, tt.rest)
			}
		})
	}
}

func FuzzParseV2(f *testing.F) {
	seeds := []*Header{
		NewProxyHeader(false, netip.MustParseAddrPort("10.0.1.5:40000"), netip.MustParseAddrPort("10.0.2.9:443"), "vpce-0a1b2c3d4e5f60718"),
		NewProxyHeader(true, netip.MustParseAddrPort("[fd00::1]:53"), netip.MustParseAddrPort("[fd00::2]:53"), "vpce-1"),
		{Command: CommandLocal, TLVs: []TLV{{Type: 4, Value: []byte{0}}, {Type: 0xEA, Value: []byte{2, 3}}}},
	}
	for _, h := range seeds {
		b, err := h.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"))
	f.Add(mustHex(f, sigHex+"21 11 0010 0a000105 0a000209 9c40 01bb ea 0001 01"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseV2(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			if h != nil {
				t.Fatalf("header %+v returned with error %v", h, err)
			}
			return
		}
		b, err := h.Marshal()
		if err != nil {
			t.Fatalf("Marshal of parsed header %+v: %v", h, err)
		}
		h2, err := ParseV2(bufio.NewReader(bytes.NewReader(b)))
		if err != nil {
			t.Fatalf("ParseV2(Marshal(h)): %v", err)
		}
		if d := cmp.Diff(h, h2, cmpHeader...); d != "" {
			t.Fatalf("round trip (-first +second):\n%s", d)
		}
	})
}
