"""A throwaway Django project serving the unmodified django-scim2 package, for the tests.

Only ``serve.py`` (run in its own process by ``tests/test_django_scim2.py``) imports
Django: the pytest process never configures Django settings.
"""
