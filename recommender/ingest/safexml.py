"""Parse untrusted XML and JSON bodies into trees, or fail with one clear line.

XML goes through defusedxml with DTDs forbidden outright: arXiv's feeds never
declare one, and refusing them blocks entity expansion (billion laughs) and
external entities (XXE) before expat resolves anything. JSON must be valid
UTF-8 (or UTF-16/32 with a BOM, as RFC 8259 readers accept).

Pure functions: no Django, no network.
"""

from __future__ import annotations

import json
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException, DTDForbidden, EntitiesForbidden, ExternalReferenceForbidden
from defusedxml.ElementTree import fromstring

from .entries import DocumentError


def _sniff(data: bytes) -> str:
    head = data.lstrip()[:200].lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "an HTML page"
    if head[:1] in (b"{", b"["):
        return "JSON"
    return ""


def parse_xml(data: bytes, *, what: str = "XML document") -> Element:
    """Return the root element of ``data``; raise ``DocumentError`` for anything unsafe or malformed."""
    if not data or not data.strip():
        raise DocumentError(f"empty body where an {what} was expected")
    kind = _sniff(data)
    if kind:
        raise DocumentError(f"expected an {what}, got {kind}")
    try:
        return fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DTDForbidden:
        raise DocumentError(
            f"rejected {what}: it declares a DTD (entity expansion and external entities are not allowed)"
        ) from None
    except EntitiesForbidden:
        raise DocumentError(f"rejected {what}: it declares entities (possible billion-laughs / XXE)") from None
    except ExternalReferenceForbidden:
        raise DocumentError(f"rejected {what}: it references an external resource (XXE)") from None
    except DefusedXmlException as exc:
        raise DocumentError(f"rejected {what}: {exc.__class__.__name__}") from None
    except ParseError as exc:
        raise DocumentError(f"malformed {what} (truncated or not XML?): {exc}") from None
    except (ValueError, LookupError) as exc:  # e.g. an unknown declared encoding
        raise DocumentError(f"malformed {what}: {exc}") from None


def parse_json(data: bytes, *, what: str = "JSON document") -> object:
    """Return the decoded JSON value of ``data``; raise ``DocumentError`` when it is not JSON."""
    if not data or not data.strip():
        raise DocumentError(f"empty body where a {what} was expected")
    head = data.lstrip()[:200].lower()
    if head.startswith((b"<!doctype", b"<html", b"<?xml", b"<")):
        raise DocumentError(f"expected a {what}, got HTML/XML markup")
    try:
        return json.loads(data)
    except UnicodeDecodeError as exc:
        raise DocumentError(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise DocumentError(f"malformed {what} (truncated or not JSON?): {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise DocumentError(f"malformed {what}: nested too deeply") from None


def text_of(element: Element | None) -> str:
    """Return all text inside ``element`` (``""`` when absent)."""
    if element is None:
        return ""
    return "".join(element.itertext())
