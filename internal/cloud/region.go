package cloud

import (
	"fmt"
	"strings"
)

// AZ is an availability zone: its name (us-east-1a) and stable ID (use1-az1).
type AZ struct {
	Name   string
	ID     string
	Region string
}

// Region is a region with its availability zones.
type Region struct {
	Name string
	AZs  []AZ
}

// KnownRegions lists the region names privlink accepts in its config.
var knownRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"ca-central-1", "sa-east-1",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1", "eu-south-1",
	"ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
	"ap-southeast-1", "ap-southeast-2", "af-south-1", "me-south-1",
}

// IsKnownRegion reports whether name is a region privlink can model.
func IsKnownRegion(name string) bool {
	for _, r := range knownRegions {
		if r == name {
			return true
		}
	}
	return false
}

// NewRegion builds a region with three zones <region>a..c whose IDs follow
// AWS's <short>-az<N> scheme (us-east-1 → use1-az1).
func NewRegion(name string) (Region, error) {
	if !IsKnownRegion(name) {
		return Region{}, fmt.Errorf("cloud: unknown region %q", name)
	}
	short := RegionShortCode(name)
	r := Region{Name: name}
	for i, letter := range []string{"a", "b", "c"} {
		r.AZs = append(r.AZs, AZ{Name: name + letter, ID: fmt.Sprintf("%s-az%d", short, i+1), Region: name})
	}
	return r, nil
}

// RegionShortCode abbreviates a region name as AWS's zone IDs do:
// us-east-1 → use1, ap-southeast-2 → apse2, eu-central-1 → euc1.
func RegionShortCode(name string) string {
	parts := strings.Split(name, "-")
	if len(parts) != 3 {
		return name
	}
	dir := map[string]string{
		"east": "e", "west": "w", "north": "n", "south": "s", "central": "c",
		"northeast": "ne", "northwest": "nw", "southeast": "se", "southwest": "sw",
	}[parts[1]]
	return parts[0] + dir + parts[2]
}

// AZ finds a zone of the region by name or ID.
func (r Region) AZ(nameOrID string) (AZ, bool) {
	for _, az := range r.AZs {
		if az.Name == nameOrID || az.ID == nameOrID {
			return az, true
		}
	}
	return AZ{}, false
}
