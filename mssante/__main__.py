from mssante.cli import main

main()
