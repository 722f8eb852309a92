"""Sphinx extension for the course book (listed in _config.yml → sphinx.extra_extensions).

- Removes sphinx-thebe's scripts when live code (thebe) is off: Jupyter Book adds its
  configuration script twice per page, which raises "THEBE_JS_URL has already been
  declared" in the browser, and the code it configures would load from a CDN.
- Removes duplicate script tags in general, so a page never declares anything twice.
"""
from __future__ import annotations


def _script_key(script) -> tuple:
    filename = getattr(script, "filename", script)
    body = getattr(script, "attributes", {}).get("body", "") if hasattr(script, "attributes") else ""
    return (str(filename), body)


def _is_thebe(script) -> bool:
    filename = str(getattr(script, "filename", script) or "")
    body = getattr(script, "attributes", {}).get("body", "") if hasattr(script, "attributes") else ""
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


def setup(app):
    app.connect("html-page-context", clean_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
