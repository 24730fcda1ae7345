package portal

import (
	"fmt"
	"slices"
	"strings"
)

// MinisiteHostsValue is a flag.Value that fills m from "site=host" pairs,
// repeated or comma-separated: "sid=saferinternetday.eu,youth=youth.example".
func MinisiteHostsValue(m *map[string]string) *HostsValue { return &HostsValue{m: m} }

// HostsValue is the flag.Value of MinisiteHostsValue.
type HostsValue struct{ m *map[string]string }

func (v *HostsValue) String() string {
	if v == nil || v.m == nil {
		return ""
	}
	var pairs []string
	for host, site := range *v.m {
		pairs = append(pairs, site+"="+host)
	}
	slices.Sort(pairs)
	return strings.Join(pairs, ",")
}

// Set adds the pairs of s.
func (v *HostsValue) Set(s string) error {
	if *v.m == nil {
		*v.m = map[string]string{}
	}
	for _, pair := range strings.Split(s, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		site, host, ok := strings.Cut(pair, "=")
		if !ok || !ValidMinisite(site) || host == "" {
			return fmt.Errorf("%q is not minisite=host with a minisite of sid, youth, pocc", pair)
		}
		(*v.m)[strings.ToLower(host)] = site
	}
	return nil
}
