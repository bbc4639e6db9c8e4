"""Plain text written by study admins, shown as paragraphs and bullet lists (no HTML from the admin)."""

from __future__ import annotations

from django import template
from django.utils.html import conditional_escape, format_html_join
from django.utils.safestring import SafeString, mark_safe

register = template.Library()


@register.filter
def paragraphs(text: str) -> SafeString:
    """Blank lines separate paragraphs; a block whose lines all start with "- " becomes a list."""
    blocks = [block.strip("\n") for block in str(text).replace("\r\n", "\n").split("\n\n") if block.strip()]
    html = []
    for block in blocks:
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if all(line.startswith("- ") for line in lines):
            items = format_html_join("", "<li>{}</li>", ((line[2:],) for line in lines))
            html.append(f"<ul>{items}</ul>")
        else:
            html.append("<p>" + "<br>".join(conditional_escape(line) for line in lines) + "</p>")
    return mark_safe("\n".join(html))  # every piece above was escaped
