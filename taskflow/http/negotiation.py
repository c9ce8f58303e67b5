"""Content negotiation that answers the commonest API requests without parsing their headers."""

from rest_framework.negotiation import DefaultContentNegotiation

JSON = "application/json"


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, with a shortcut for what API clients send: `Accept: application/json`
    and `Content-Type: application/json`. Any other header, and a `?format=` or format suffix,
    are negotiated by DRF as before; the shortcut picks what DRF would pick for those two.
    """

    def select_parser(self, request, parsers):
        if request.META.get("CONTENT_TYPE") == JSON:
            for parser in parsers:
                if parser.media_type == JSON:
                    return parser
        return super().select_parser(request, parsers)

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and request.META.get("HTTP_ACCEPT") == JSON
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            for renderer in renderers:
                if renderer.media_type == JSON:
                    return renderer, JSON
        return super().select_renderer(request, renderers, format_suffix)
