// Package portaltest holds what tests of the public portal share: a crawler
// that visits every public surface looking for text that must not be there,
// and an OAI-PMH harvester that validates every response against the
// OAI-PMH 2.0 and oai_dc schemas, and the IEEE LOM schema where one is
// installed, with xmllint, and decodes oai_dc and LOM records.
package portaltest
