print("shunter")
