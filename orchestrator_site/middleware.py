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
