"""``{% digest_part "name" %}…{% end_digest_part %}``: marks one repeated block of the digest email.

A normal render (the web preview, the naive path, ``Template.render``)
renders the block's content as if the tag were not there. The fast send path
(``recommender.digest.render.FragmentTemplate``) renders each block once per
paper and assembles each subscriber's email from those pieces: inside its
"skeleton" render the tag only leaves a marker naming the block and the loop
position (the loop variable must be called ``item``).
"""

from __future__ import annotations

from django import template

from ..summaries.extractive import snippet as cut

register = template.Library()

SKELETON = "pb_digest_skeleton"  # context key set by the fast path only: the marker's prefix and suffix


class DigestPartNode(template.Node):
    def __init__(self, name: str, nodelist: template.NodeList):
        self.name = name
        self.nodelist = nodelist

    def render(self, context) -> str:
        marker = context.get(SKELETON)
        if marker is None:
            return self.nodelist.render(context)
        prefix, suffix = marker
        slot = context["item"]  # the skeleton loops over slots: which list, which position
        return f"{prefix}part:{self.name}:{slot.seq}:{slot.index}{suffix}"


@register.tag("digest_part")
def digest_part(parser, token):
    bits = token.split_contents()
    if len(bits) != 2 or bits[1][0] not in "\"'" or bits[1][-1] != bits[1][0]:
        raise template.TemplateSyntaxError('usage: {% digest_part "name" %}…{% end_digest_part %}')
    nodelist = parser.parse(("end_digest_part",))
    parser.delete_first_token()
    return DigestPartNode(bits[1][1:-1], nodelist)


# The size budget (docs/digest.md): full details for the first papers, a row of the summary table (title linked
# to the paper, one-line summary) for the rest, so that every digest a subscriber can choose stays under Gmail's
# clipping limit (~102 KB), bilingual ones included. Sizes grow with the number of papers for a given number of
# detailed ones, so the largest digests are DEFAULT_DIGEST papers and the form's maximum
# (tests/digest/test_size_budget.py).
DEFAULT_DIGEST = 10
DETAILED_IN_SHORT = 5  # digests of up to DEFAULT_DIGEST papers
# Longer digests are a table to scan: one paper in full. Two left a 50-paper Cyrillic digest with a section per
# topic (20 topics) at 100.2-100.8 KB once paper ids have production length (9 digits, in every link).
DETAILED_IN_LONG = 1
# A reader who chose translated abstracts gets one with every paper shown in full, so fewer are: each costs
# up to ~12 KB as sent in Cyrillic (1,500 characters x 1.4, two bytes each, base64, in both parts), about what
# a detailed paper without it costs. The first papers keep the details; the others are rows.
DETAILED_WITH_ABSTRACTS_IN_SHORT = 3
DETAILED_WITH_ABSTRACTS_IN_LONG = 1


@register.simple_tag
def detailed_papers(count: int, translated_abstracts: bool = False) -> int:
    """How many of ``count`` papers get full details (read in the skeleton render: a layout decision)."""
    if translated_abstracts:
        return DETAILED_WITH_ABSTRACTS_IN_SHORT if count <= DEFAULT_DIGEST else DETAILED_WITH_ABSTRACTS_IN_LONG
    return DETAILED_IN_SHORT if count <= DEFAULT_DIGEST else DETAILED_IN_LONG


@register.filter
def snippet(value, max_chars: int = 120) -> str:
    """``value`` cut at a sentence or word boundary to at most ``max_chars`` (TeX spans kept whole)."""

    return cut(str(value or ""), int(max_chars))
