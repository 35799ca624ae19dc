"""orscene.pipeline"""
