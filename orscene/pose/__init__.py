"""orscene.pose"""
