"""Errors of the face pipeline, in the project's one error shape (:class:`yichuang.errors.AppError`).

Codes, texts and advice live in ``yichuang/errors.py`` (section "the face pipeline"); a raise
site names the file or the reason as parameters and free text as ``detail``::

    raise ModelDigestMismatch(file="face_recognition_sface_2021dec_int8bq.onnx", detail="sha256 …")

| class | code | when |
|---|---|---|
| :class:`FaceError` | ``face_error`` | base of the others |
| :class:`ModelsMissing` | ``face_models_missing`` | a model file (or its package) is not there |
| :class:`ModelDigestMismatch` | ``face_model_digest_mismatch`` | a model file differs from its pinned sha256 |
| :class:`NoUsableFace` | ``face_no_usable_face`` | no face, or the only faces are unusable |
| :class:`UnreadableImage` | ``face_unreadable_image`` | an image file that cannot be decoded |
"""

from __future__ import annotations

from hardware.errors import DeviceError


class FaceError(DeviceError):
    code = "face_error"


class ModelsMissing(FaceError):
    """``file``: the missing file (or package)."""

    code = "face_models_missing"


class ModelDigestMismatch(FaceError):
    """``file``: the model file whose sha256 differs; ``detail`` has both digests."""

    code = "face_model_digest_mismatch"


class NoUsableFace(FaceError):
    """An image with no face, or a face the quality gate rejects; ``detail`` says which."""

    code = "face_no_usable_face"


class UnreadableImage(FaceError):
    """``file``: an image that cannot be read or decoded."""

    code = "face_unreadable_image"
