"""orscene.body"""
