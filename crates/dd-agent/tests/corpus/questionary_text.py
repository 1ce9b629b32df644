import questionary
print("got", questionary.text("What is your name?").ask())
