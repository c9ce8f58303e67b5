"""Telling an admin page of a model from the pages of other models that cascade to it."""


def on_own_admin_pages(request, model_admin) -> bool:
    """Whether `request` is for one of `model_admin`'s own pages (its list, change or delete page).

    Lets an admin refuse deleting rows from their own pages while still letting the deletion of a
    parent take them along (Django asks the same `has_delete_permission` for both).
    """
    match = getattr(request, "resolver_match", None)
    opts = model_admin.model._meta
    return match is not None and (match.url_name or "").startswith(f"{opts.app_label}_{opts.model_name}_")
