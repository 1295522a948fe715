"""One mapping, at the boundary, from the engine's MigrateException to vineyard's exceptions."""

import contextlib

# vineyard status code -> name of vineyard's exception class (vineyard/_C)
_BY_CODE = {
    1: "InvalidException",
    2: "KeyErrorException",
    3: "TypeErrorException",
    4: "IOErrorException",
    5: "EndOfFileException",
    6: "NotImplementedException",
    7: "AssertionFailedException",
    8: "UserInputErrorException",
    11: "ObjectExistsException",
    12: "ObjectNotExistsException",
    13: "ObjectSealedException",
    14: "ObjectNotSealedException",
    21: "MetaTreeInvalidException",
    25: "MetaTreeNameNotExistsException",
    27: "MetaTreeSubtreeNotExistsException",
    31: "VineyardServerNotReadyException",
    33: "ConnectionFailedException",
    34: "ConnectionErrorException",
    35: "EtcdErrorException",
    41: "NotEnoughMemoryException",
    42: "StreamDrainedException",
    43: "StreamFailedException",
    255: "UnknownErrorException",
}


class MigrationError(RuntimeError):
    """A failure in the engine that none of vineyard's exception classes describes."""


def exception_for(code, message):
    """vineyard's exception for a status code, carrying the engine's message."""
    import vineyard

    cls = getattr(vineyard, _BY_CODE.get(int(code), ""), None) or MigrationError
    return cls(message)


@contextlib.contextmanager
def mapped_errors():
    """Re-raise Java exceptions from the engine as Python ones."""
    import jpype

    try:
        yield
    except jpype.JException as e:
        migrate_exception = jpype.JClass("io.v6d.migrate.MigrateException")
        if isinstance(e, migrate_exception):
            raise exception_for(e.codeValue(), str(e.getMessage())) from None
        raise MigrationError("vineyard-migrate engine failed: %s" % e) from None
