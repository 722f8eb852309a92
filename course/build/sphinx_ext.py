"""Sphinx extension for the course book (listed in _config.yml → sphinx.extra_extensions).

- Removes sphinx-thebe's scripts when live code (thebe) is off: Jupyter Book adds its
  configuration script twice per page, which raises "THEBE_JS_URL has already been
  declared" in the browser, and the code it configures would load from a CDN.
- Removes duplicate script tags in general, so a page never declares anything twice.
- Implements the one switch that leaves the solutions out of the published site:
  ``course_publish_solutions: false`` under ``sphinx.config`` in ``_config.yml`` drops
  every ``solutions/…`` entry from the table of contents and excludes those notebooks.
"""

from __future__ import annotations


def _script_key(script) -> tuple:
    filename = getattr(script, "filename", script)
    body = (
        getattr(script, "attributes", {}).get("body", "") if hasattr(script, "attributes") else ""
    )
    return (str(filename), body)


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = (
        getattr(script, "attributes", {}).get("body", "") if hasattr(script, "attributes") else ""
    )
    return "thebe" in filename or "THEBE_JS_URL" in (body or "")


def clean_scripts(app, pagename, templatename, context, doctree):
    scripts = context.get("script_files")
    if not scripts:
        return
    thebe_on = bool(app.config.html_theme_options.get("launch_buttons", {}).get("thebe", False))
    seen, kept = set(), []
    for script in scripts:
        key = _script_key(script)
        if key in seen or (not thebe_on and _is_thebe(script)):
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


SOLUTIONS_PREFIX = "solutions/"


def drop_solutions(app, config):
    """Remove solutions/ from the site map sphinx-external-toc built from _toc.yml."""
    if config.course_publish_solutions:
        return
    site_map = getattr(config, "external_site_map", None)
    if site_map is not None:
        for docname in list(site_map):
            doc = site_map[docname]
            for tree in doc.subtrees:
                tree.items = [
                    item for item in tree.items if not str(item).startswith(SOLUTIONS_PREFIX)
                ]
            doc.subtrees = [tree for tree in doc.subtrees if tree.items]
        for docname in [name for name in site_map if name.startswith(SOLUTIONS_PREFIX)]:
            del site_map[docname]
    config["exclude_patterns"] = list(config["exclude_patterns"]) + [SOLUTIONS_PREFIX + "**"]


def setup(app):
    app.add_config_value("course_publish_solutions", True, "env")
    # after sphinx-external-toc has parsed _toc.yml (its handler runs at priority 900)
    app.connect("config-inited", drop_solutions, priority=950)
    app.connect("html-page-context", clean_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
