package main

import "testing"

func TestParseWrk(t *testing.T) {
	const head = "Running 5s test @ http://10.0.1.5:8080/\n  2 threads and 128 connections\n" +
		"  Thread Stats   Avg      Stdev     Max   +/- Stdev\n    Latency    10.71ms    2.10ms  38.02ms   80.12%\n"
	tests := []struct {
		name    string
		out     string
		want    connResult
		wantErr bool
	}{
		{
			name: "clean",
			out:  head + "  43046 requests in 5.00s, 6.36MB read\nRequests/sec:   8608.24\nTransfer/sec:      1.27MB\n",
			want: connResult{OK: 43046, Seconds: 5},
		},
		{
			name: "socket errors and failed answers",
			out: head + "  1000 requests in 2.50s, 150.00KB read\n  Socket errors: connect 3, read 4, write 0, timeout 5\n" +
				"  Non-2xx or 3xx responses: 10\nRequests/sec:    400.00\n",
			want: connResult{OK: 990, Failed: 22, Seconds: 2.5},
		},
		{
			name: "duration in minutes",
			out:  head + "  120 requests in 1.00m, 1.00KB read\n",
			want: connResult{OK: 120, Seconds: 60},
		},
		{name: "no total", out: head + "unable to connect to 10.0.1.5:8080 Connection refused\n", wantErr: true},
		{name: "more failures than requests", out: head + "  5 requests in 1.00s, 1KB read\n  Non-2xx or 3xx responses: 6\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseWrk([]byte(tt.out))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseWrk error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("parseWrk = %+v, want %+v", got, tt.want)
			}
		})
	}
}
