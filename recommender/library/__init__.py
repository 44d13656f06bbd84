"""Import a reference library (BibTeX, RIS, Zotero/Mendeley CSV, pasted ids) as saved papers.

``parsers`` (bytes in, ``LibraryEntry`` out), ``normalise`` and ``matching``
are pure, without Django: the offline ``import`` evaluation protocol runs
the same matching path. ``services`` (write side), ``tasks`` (fetching ids
the catalogue lacks) and ``author`` (the "my own papers" search) use Django.
"""
