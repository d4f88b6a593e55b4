print("tokengate: not built yet")
