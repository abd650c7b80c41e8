import os

from hypothesis import HealthCheck, settings

settings.register_profile("default", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cifar`` need CIFAR-10: without it (no --data, nothing where empirical.images.cifar10 looks) they are
    skipped, all with the one reason that says where it was looked for and how to get it."""
    marked = [item for item in items if item.get_closest_marker("cifar")]
    if not marked:
        return
    import pytest

    from empirical.images.cifar10 import default_source, not_found_message
    if default_source() is None:
        skip = pytest.mark.skip(reason=not_found_message())
        for item in marked:
            item.add_marker(skip)
