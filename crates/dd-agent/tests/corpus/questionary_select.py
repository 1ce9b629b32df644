import questionary
print("got", questionary.select("Pick a fruit", choices=["apple", "pear", "plum"]).ask())
