"""Head alignment: rigid registration of each fitted head to the fused point cloud."""

from orscene.registration.align import AlignConfig, AlignResult, align_head, align_heads, head_vertex_normals

__all__ = ["AlignConfig", "AlignResult", "align_head", "align_heads", "head_vertex_normals"]
