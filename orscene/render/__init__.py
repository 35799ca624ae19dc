"""orscene.render"""
