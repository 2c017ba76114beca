#!/usr/bin/python3
"""The demo's SAML IdP (used by `./dev demo`): writes idp-metadata.xml and a signed
bearer assertion for provider-c, valid for 8 hours, as assertion.b64 (the value after
`Authorization: SAML `). Reuses the e2e suite's IdP (hand-written XML signed by xmlsec1).

usage: demo-idp.py DIR AUDIENCE
"""
import base64
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "e2e"))
from cmi_e2e.saml import AssertionSpec, Idp  # noqa: E402

out, audience = Path(sys.argv[1]), sys.argv[2]
out.mkdir(parents=True, exist_ok=True)
idp = Idp(out, "https://idp.demo.invalid/saml", name="demo-idp")
shutil.copy(idp.metadata_path, out / "idp-metadata.xml")
spec = AssertionSpec(issuer=idp.entity_id, audience=audience, name_id="provider-c",
                     not_on_or_after=8 * 3600, confirmation_not_on_or_after=8 * 3600)
(out / "assertion.b64").write_text(base64.b64encode(idp.signed_assertion(spec).encode()).decode() + "\n")
