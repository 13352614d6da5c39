"""Typed errors of the face pipeline (stable code, Chinese + English message)."""

from __future__ import annotations

from hardware.errors import DeviceError


class FaceError(DeviceError):
    code = "face.error"
    message_zh = "人脸比对失败"
    message_en = "Face verification failed"


class ModelsMissing(FaceError):
    code = "face.models_missing"
    message_zh = "人脸模型文件缺失，请联系技术人员"
    message_en = "Face model files are missing; call a technician"


class NoUsableFace(FaceError):
    """An image with no face, several faces, or a face the quality gate rejects."""

    code = "face.no_usable_face"
    message_zh = "未检测到清晰的人脸"
    message_en = "No usable face in the image"
