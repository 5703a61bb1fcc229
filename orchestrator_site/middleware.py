from django.conf import settings
from django.http import JsonResponse


def body_size_limit(get_response):
    """Refuse oversized bodies with 413 before any view reads them."""

    def middleware(request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "invalid Content-Length header"}, status=400)
        if length > settings.MAX_REQUEST_BODY_BYTES:
            return JsonResponse(
                {"detail": f"request body of {length} bytes exceeds the limit of "
                           f"{settings.MAX_REQUEST_BODY_BYTES} bytes"},
                status=413,
            )
        return get_response(request)

    return middleware


def refuse_nul_bytes(get_response):
    """A NUL in the path or query string is never a valid id, key or label, and PostgreSQL
    refuses it in any text it is compared with (a 500 there): answer 400 before any view runs."""

    def middleware(request):
        if "\x00" in request.path or "%00" in request.META.get("QUERY_STRING", "") or any(
                "\x00" in value for values in request.GET.lists() for value in values[1]):
            return JsonResponse({"detail": "NUL bytes are not allowed in the path or the query "
                                           "string"}, status=400)
        return get_response(request)

    return middleware
