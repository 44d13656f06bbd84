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
