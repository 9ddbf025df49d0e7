"""Deterministic sample data: the five raw CSVs with every real-world quirk, plus `expected.json`.

`generate(out_dir, scale, seed, inject_orphans, plant_anomalies)` writes Customers.csv, Products.csv, Stores.csv,
Sales.csv and Exchange_Rates.csv (headers from `ingestion.contract`) and `expected.json`, the figures
the warehouse must show for exactly these files, computed here from what was generated (never from SQL).

Same arguments -> byte-identical files. Each file draws from its own random stream
(`random.Random(f"{seed}:<file>")`), so the files do not disturb one another. Only the standard
library is used; money is kept in integer cents and exchange rates in integer 1/10,000 units.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path

from ingestion.contract import SOURCES, SOURCES_BY_NAME

# --------------------------------------------------------------------------------------------------
# Volumes (scale 1); customers and sales are multiplied by `scale`, the rest stay fixed.
# --------------------------------------------------------------------------------------------------
CUSTOMER_ROWS = 16_029
CUSTOMER_KEYS = 15_266
SUPERSEDED_PER_KIND = 16  # three kinds -> 48 superseded rows per scale unit
EXACT_DUPLICATES = CUSTOMER_ROWS - CUSTOMER_KEYS - 3 * SUPERSEDED_PER_KIND  # 715 extra identical copies
INVALID_BIRTHDAYS = 16  # distinct customers with an impossible birthday, per scale unit
AGE_IMPUTED = 6  # of those, the ones with a blank Age too
SALES_LINES = 62_884
SALES_ORDERS = 26_326
BUYING_CUSTOMERS = 11_887
PRODUCT_ROWS = 2_517
STORE_ROWS = 67
ONLINE_STORE_KEY = 0

START_DATE = date(2024, 1, 1)
AS_OF_DATE = date(2025, 12, 31)
DAYS = (AS_OF_DATE - START_DATE).days + 1  # 731
DATE_MDY = [(START_DATE + timedelta(days=d)).strftime("%m/%d/%Y") for d in range(DAYS)]

# Planted by plant_anomalies=True: one order on this day, one line per category of the first
# PLANTED_CATEGORIES, each PLANTED_QUANTITY units of the category's dearest product. Every planted line
# is far above its category, and the day far above the other days.
PLANTED_DAY = date(2025, 3, 12)
PLANTED_CATEGORIES = 5
PLANTED_QUANTITY = 250
ANOMALY_Z = 3.0

# Orphan lines appended by inject_orphans=True (fixed, independent of scale).
ORPHANS = {"orphan_customer": 25, "orphan_product": 15, "orphan_store": 10}

CURRENCIES = ("USD", "CAD", "AUD", "EUR", "GBP")  # file order per day
BASE_RATES = {"USD": 1.0, "CAD": 1.32, "AUD": 1.55, "EUR": 0.92, "GBP": 0.79}

BIRTHDAY_FORMATS = ("M/D/YYYY", "DD-MM-YYYY", "YYYY-MM-DD", "DD/MM/YYYY", "invalid")

# Lower-case accented letters whose UTF-8 form is C3 xx with xx in 0xA1..0xBF, xx != 0xAD: their
# Latin-1 misreading is `Ã` plus a printable symbol, so mojibake is visible and reversible.
MOJIBAKE_SAFE = frozenset("áâãäåæçèéêëìîïñòóôõöøùúûü")

# --------------------------------------------------------------------------------------------------
# Reference pools
# --------------------------------------------------------------------------------------------------
# Per country: (name, continent, currency, weight %, zip style, cultures {culture: weight},
#               email domains, states: (code, state, weight, cities: (city, zip base, alternative spelling)))
_US_STATES = (
    ("CA", "California", 12, (("Los Angeles", 90012, None), ("San Francisco", 94103, None),
                              ("San Diego", 92101, None), ("Sacramento", 95814, None),
                              ("San José", 95113, "San Jose"))),
    ("NY", "New York", 8, (("New York", 10001, "New York City"), ("Buffalo", 14201, None),
                           ("Rochester", 14604, None), ("Albany", 12207, None))),
    ("TX", "Texas", 9, (("Houston", 77002, None), ("Dallas", 75201, None), ("Austin", 78701, None),
                        ("San Antonio", 78205, None), ("El Paso", 79901, None))),
    ("FL", "Florida", 7, (("Miami", 33101, None), ("Orlando", 32801, None), ("Tampa", 33602, None),
                          ("Jacksonville", 32202, None))),
    ("IL", "Illinois", 4, (("Chicago", 60601, None), ("Peoria", 61602, None))),
    ("MA", "Massachusetts", 3, (("Boston", 2108, None), ("Springfield", 1103, None), ("Worcester", 1608, None),
                                ("Cambridge", 2138, None))),
    ("NJ", "New Jersey", 3, (("Newark", 7102, None), ("Trenton", 8608, None), ("Jersey City", 7302, None))),
    ("CT", "Connecticut", 2, (("Hartford", 6103, None), ("New Haven", 6510, None))),
    ("RI", "Rhode Island", 1, (("Providence", 2903, None),)),
    ("NH", "New Hampshire", 1, (("Manchester", 3101, None),)),
    ("ME", "Maine", 1, (("Portland", 4101, None),)),
    ("VT", "Vermont", 1, (("Burlington", 5401, None),)),
    ("WA", "Washington", 3, (("Seattle", 98101, None), ("Spokane", 99201, None))),
    ("PA", "Pennsylvania", 4, (("Philadelphia", 19103, None), ("Pittsburgh", 15222, None))),
    ("OH", "Ohio", 4, (("Columbus", 43215, None), ("Cleveland", 44114, None))),
    ("GA", "Georgia", 3, (("Atlanta", 30303, None),)),
    ("MI", "Michigan", 3, (("Detroit", 48226, None),)),
    ("NM", "New Mexico", 1, (("Santa Fe", 87501, None), ("Española", 87532, "Espanola"))),
    ("CO", "Colorado", 2, (("Denver", 80202, None), ("Cañon City", 81212, "Canon City"))),
    ("MN", "Minnesota", 2, (("Saint Paul", 55102, "St. Paul"), ("Minneapolis", 55401, None))),
    ("MO", "Missouri", 2, (("Saint Louis", 63101, "St. Louis"), ("Kansas City", 64105, None))),
    ("AZ", "Arizona", 2, (("Phoenix", 85004, None), ("Tucson", 85701, None))),
    ("PR", "Puerto Rico", 1, (("San Juan", 901, None), ("Mayagüez", 680, "Mayaguez"))),
)  # fmt: skip
_UK_STATES = (
    ("LND", "London", 6, (("London", "SW1", None), ("Croydon", "CR0", None))),
    ("MAN", "Greater Manchester", 3, (("Manchester", "M1", None), ("Salford", "M5", None))),
    ("WMD", "West Midlands", 3, (("Birmingham", "B1", None), ("Coventry", "CV1", None))),
    ("WYK", "West Yorkshire", 2, (("Leeds", "LS1", None), ("Bradford", "BD1", None))),
    ("MSY", "Merseyside", 2, (("Liverpool", "L1", None),)),
    ("EDH", "City of Edinburgh", 2, (("Edinburgh", "EH1", None),)),
    ("GLG", "Glasgow City", 2, (("Glasgow", "G1", None),)),
    ("CRF", "Cardiff", 1, (("Cardiff", "CF10", None),)),
    ("KEN", "Kent", 2, (("Canterbury", "CT1", None), ("Maidstone", "ME14", None))),
    ("OXF", "Oxfordshire", 1, (("Oxford", "OX1", None),)),
)  # fmt: skip
_CA_STATES = (
    ("ON", "Ontario", 5, (("Toronto", "M5V", None), ("Ottawa", "K1P", None), ("Hamilton", "L8P", None))),
    ("QC", "Québec", 3, (("Montréal", "H2X", "Montreal"), ("Québec", "G1R", "Quebec City"),
                         ("Trois-Rivières", "G9A", "Trois-Rivieres"))),
    ("BC", "British Columbia", 2, (("Vancouver", "V6B", None), ("Victoria", "V8W", None))),
    ("AB", "Alberta", 2, (("Calgary", "T2P", None), ("Edmonton", "T5J", None))),
    ("MB", "Manitoba", 1, (("Winnipeg", "R3C", None),)),
    ("NS", "Nova Scotia", 1, (("Halifax", "B3H", None),)),
)  # fmt: skip
_DE_STATES = (
    ("TH", "Thüringen", 2, (("Erfurt", 99084, None), ("Jena", 7743, None), ("Weimar", 99423, None))),
    ("BY", "Bayern", 4, (("München", 80331, "Munich"), ("Nürnberg", 90402, "Nuremberg"), ("Würzburg", 97070, None))),
    ("BE", "Berlin", 3, (("Berlin", 10115, None),)),
    ("NW", "Nordrhein-Westfalen", 5, (("Köln", 50667, "Cologne"), ("Düsseldorf", 40213, "Duesseldorf"),
                                      ("Münster", 48143, None))),
    ("HH", "Hamburg", 2, (("Hamburg", 20095, None),)),
    ("BW", "Baden-Württemberg", 3, (("Stuttgart", 70173, None), ("Tübingen", 72070, None))),
    ("NI", "Niedersachsen", 2, (("Hannover", 30159, None), ("Göttingen", 37073, None))),
    ("SN", "Sachsen", 2, (("Dresden", 1067, None), ("Leipzig", 4109, None))),
    ("HE", "Hessen", 2, (("Frankfurt am Main", 60311, None), ("Wiesbaden", 65183, None))),
)  # fmt: skip
_NL_STATES = (
    ("NH", "Noord-Holland", 4, (("Amsterdam", 1012, None), ("Haarlem", 2011, None))),
    ("ZH", "Zuid-Holland", 4, (("Rotterdam", 3011, None), ("Den Haag", 2511, "The Hague"), ("Leiden", 2311, None))),
    ("UT", "Utrecht", 2, (("Utrecht", 3511, None),)),
    ("NB", "Noord-Brabant", 2, (("Eindhoven", 5611, None), ("'s-Hertogenbosch", 5211, "Den Bosch"))),
    ("GR", "Groningen", 1, (("Groningen", 9711, None),)),
    ("LI", "Limburg", 1, (("Maastricht", 6211, None),)),
    ("GE", "Gelderland", 2, (("Arnhem", 6811, None), ("Nijmegen", 6511, None))),
)  # fmt: skip
_FR_STATES = (
    ("IDF", "Île-de-France", 5, (("Paris", 75001, None), ("Versailles", 78000, None))),
    ("ARA", "Auvergne-Rhône-Alpes", 3, (("Lyon", 69001, None), ("Grenoble", 38000, None))),
    ("PAC", "Provence-Alpes-Côte d'Azur", 3, (("Marseille", 13001, None), ("Nice", 6000, None))),
    ("OCC", "Occitanie", 2, (("Toulouse", 31000, None), ("Montpellier", 34000, None), ("Nîmes", 30000, "Nimes"))),
    ("NAQ", "Nouvelle-Aquitaine", 2, (("Bordeaux", 33000, None),)),
    ("HDF", "Hauts-de-France", 2, (("Lille", 59000, None),)),
    ("BRE", "Bretagne", 1, (("Rennes", 35000, None), ("Brest", 29200, None))),
    ("BFC", "Bourgogne-Franche-Comté", 1, (("Dijon", 21000, None), ("Besançon", 25000, "Besancon"))),
)  # fmt: skip
_IT_STATES = (
    ("LZ", "Lazio", 4, (("Roma", 184, "Rome"),)),
    ("LM", "Lombardia", 4, (("Milano", 20121, "Milan"), ("Bergamo", 24121, None))),
    ("TC", "Toscana", 2, (("Firenze", 50122, "Florence"), ("Pisa", 56121, None))),
    ("CM", "Campania", 2, (("Napoli", 80133, "Naples"),)),
    ("PM", "Piemonte", 2, (("Torino", 10121, "Turin"),)),
    ("VN", "Veneto", 2, (("Venezia", 30121, "Venice"), ("Verona", 37121, None))),
    ("SC", "Sicilia", 1, (("Palermo", 90133, None),)),
    ("ER", "Emilia-Romagna", 2, (("Bologna", 40121, None), ("Forlì", 47121, "Forli"))),
)  # fmt: skip
_AU_STATES = (
    ("NSW", "New South Wales", 5, (("Sydney", 2000, None), ("Newcastle", 2300, None))),
    ("VIC", "Victoria", 4, (("Melbourne", 3000, None), ("Geelong", 3220, None))),
    ("QLD", "Queensland", 3, (("Brisbane", 4000, None), ("Gold Coast", 4217, None))),
    ("WA", "Western Australia", 2, (("Perth", 6000, None),)),
    ("SA", "South Australia", 1, (("Adelaide", 5000, None),)),
    ("TAS", "Tasmania", 1, (("Hobart", 7000, None),)),
    ("ACT", "Australian Capital Territory", 1, (("Canberra", 2600, None),)),
    ("NT", "Northern Territory", 1, (("Darwin", 800, None),)),
)  # fmt: skip

COUNTRIES = (
    ("United States", "North America", "USD", 45, "us", {"en": 68, "es": 26, "pl": 3, "de": 3},
     ("gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "aol.com", "icloud.com"), _US_STATES),
    ("United Kingdom", "Europe", "GBP", 12, "uk", {"en": 88, "pl": 6, "fr": 3, "it": 3},
     ("gmail.com", "hotmail.co.uk", "btinternet.com", "yahoo.co.uk"), _UK_STATES),
    ("Canada", "North America", "CAD", 9, "ca", {"en": 58, "fr": 40, "pl": 2},
     ("gmail.com", "shaw.ca", "rogers.com", "videotron.ca"), _CA_STATES),
    ("Germany", "Europe", "EUR", 10, "5", {"de": 90, "pl": 5, "it": 5},
     ("gmx.de", "web.de", "t-online.de", "gmail.com"), _DE_STATES),
    ("Australia", "Australia", "AUD", 7, "4", {"en": 90, "it": 6, "de": 4},
     ("bigpond.com.au", "gmail.com", "optusnet.com.au"), _AU_STATES),
    ("Netherlands", "Europe", "EUR", 5, "nl", {"nl": 92, "de": 5, "en": 3},
     ("ziggo.nl", "kpnmail.nl", "gmail.com"), _NL_STATES),
    ("France", "Europe", "EUR", 6, "5", {"fr": 94, "es": 3, "it": 3},
     ("orange.fr", "free.fr", "laposte.net", "gmail.com"), _FR_STATES),
    ("Italy", "Europe", "EUR", 6, "5", {"it": 95, "de": 3, "fr": 2},
     ("libero.it", "virgilio.it", "gmail.com", "tiscali.it"), _IT_STATES),
)  # fmt: skip

# culture: (male first names, female first names, last names)
CULTURES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "en": (
        ("James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
         "Christopher", "Daniel", "Matthew", "Anthony", "Mark", "Oliver", "Harry", "George", "Jack", "Noah",
         "Liam", "Ethan", "Julian", "Samuel"),
        ("Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan", "Jessica", "Sarah", "Karen",
         "Emily", "Olivia", "Amelia", "Isla", "Ava", "Chloe", "Zoë", "Grace", "Hannah", "Megan"),
        ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
         "Moore", "Jackson", "Martin", "Lee", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson",
         "Walker", "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Nelson", "Baker",
         "Hall", "Campbell", "Mitchell", "Carter", "Roberts", "Evans", "Edwards", "Collins", "Stewart", "Morris",
         "Murphy", "Cook", "Rogers", "O'Brien", "Kelly", "Walsh", "Byrne", "Hughes", "Wood", "Turner", "Patel",
         "Nguyen", "Chen", "Kim", "Cunningham", "Fletcher"),
    ),
    "es": (
        ("José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Andrés", "Ramón", "Jesús", "Raúl", "Sergio",
         "Pablo", "Óscar"),
        ("María", "Ana", "Carmen", "Lucía", "Sofía", "Inés", "Begoña", "Rocío", "Mónica", "Verónica", "Rosa",
         "Elena"),
        ("García", "Rodríguez", "Martínez", "López", "González", "Hernández", "Pérez", "Sánchez", "Ramírez",
         "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz", "Ortiz", "Gutiérrez",
         "Chávez", "Ramos", "Ruiz", "Álvarez", "Castillo", "Jiménez", "Moreno", "Romero", "Herrera", "Medina",
         "Aguilar", "Vargas", "Castro", "Muñoz", "Peña", "Ibáñez", "Núñez", "Castañeda", "Ordóñez"),
    ),
    "de": (
        ("Jürgen", "Jörg", "Björn", "Sören", "Lukas", "Jonas", "Felix", "Maximilian", "Paul", "Leon", "Stefan",
         "Andreas", "Günter", "Uwe"),
        ("Käthe", "Bärbel", "Jördis", "Lena", "Anna", "Sophie", "Marie", "Hanna", "Lea", "Katrin", "Sabine",
         "Jutta", "Ursula"),
        ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz", "Hoffmann",
         "Schäfer", "Koch", "Bauer", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Schwarz", "Zimmermann",
         "Braun", "Krüger", "Hartmann", "Lange", "Möller", "Köhler", "Weiß", "Groß", "Jäger", "Günther", "Böhm",
         "Vogel", "Fuchs", "Öztürk", "Müller-Lüdenscheidt"),
    ),
    "fr": (
        ("Jean", "Pierre", "Louis", "Michel", "Philippe", "François", "Jérôme", "Hervé", "Benoît", "Gaël", "Noël",
         "Léo", "André", "Nicolas", "Julien", "Étienne"),
        ("Marie", "Camille", "Léa", "Chloé", "Manon", "Hélène", "Cécile", "Zoé", "Anaïs", "Agnès", "Sophie",
         "Julie", "Émilie", "Maëlle"),
        ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau",
         "Simon", "Laurent", "Lefèvre", "Michel", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert", "Fontaine",
         "Rousseau", "Vincent", "Faure", "André", "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier",
         "François", "Legrand", "Gauthier", "Clément", "Noël", "Rivière", "Gérard", "Carré", "Ménard", "Léger",
         "Prévost", "Lévêque", "Lemaître", "Barthélemy", "Besançon"),
    ),
    "it": (
        ("Giuseppe", "Giovanni", "Antonio", "Mario", "Luigi", "Francesco", "Niccolò", "Luca", "Marco", "Andrea",
         "Matteo", "Lorenzo", "Alessandro"),
        ("Maria", "Anna", "Giulia", "Francesca", "Chiara", "Sara", "Martina", "Elena", "Giorgia", "Alessia"),
        ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco",
         "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa", "Giordano", "Rizzo", "Lombardi", "Moretti",
         "Barbieri", "Fontana", "Santoro", "Caruso", "D'Angelo", "Cantù", "Forlì", "Niccolò"),
    ),
    "nl": (
        ("Jan", "Pieter", "Daan", "Sem", "Lucas", "Bram", "Thijs", "Joost", "Sjoerd", "Ruud", "Maarten"),
        ("Emma", "Sanne", "Femke", "Lotte", "Noor", "Fleur", "Ilse", "Anouk", "Eline", "Chloë"),
        ("de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen", "Visser", "Smit",
         "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters", "Hendriks", "van Leeuwen", "Dekker",
         "Brouwer", "de Wit", "Dijkstra", "van der Meer", "Kok", "de Haan", "Vermeulen", "Hoogendoorn"),
    ),
    # names with letters beyond Latin-1: always clean, never mojibake
    "pl": (
        ("Łukasz", "Paweł", "Michał", "Wojciech", "Jiří", "Tomasz", "Piotr"),
        ("Małgorzata", "Agnieszka", "Zuzana", "Kateřina", "Anna", "Ewa"),
        ("Nowak", "Kowalski", "Wiśniewski", "Dvořák", "Wójcik", "Kowalczyk", "Kamiński", "Lewandowski",
         "Zieliński", "Szymański", "Němec", "Procházka"),
    ),
}  # fmt: skip

INVALID_EMAIL_SHAPES = (
    "{n}_missingatsign.com",
    "{n}_user@ gmail.com",
    "{n}_user@domain..com",
    "{n}_user@invalid_domain",
    "{n}_spaces in name@gmail.com",
    "user@domain.c",
)

# Products: (category key, category, [(subcategory key, subcategory, name templates, weight)], price range $,
#            brands). `{in}` in a template is a screen size in inches, written with a `"` mark.
CATEGORIES = (
    ("01", "Audio", (10, 450), ("Contoso", "Wide World Importers", "Northwind Traders"), (
        ("0101", "MP4&MP3", ("{gb}GB MP4 Player", "{gb}GB MP3 Player", "Pocket MP4 Player {gb}GB"), 5),
        ("0102", "Recording Pen", ("Digital Voice Recorder {gb}GB", "Recording Pen {gb}GB"), 3),
        ("0103", "Bluetooth Headphones", ("Bluetooth Headphones", "Wireless Earbuds", "Over-Ear Headphones"), 5),
        ("0104", "Speakers", ("Bluetooth Speaker", "Bookshelf Speakers, Pair", "Soundbar"), 4),
    )),
    ("02", "TV and Video", (90, 3200), ("Southridge Video", "Litware", "Contoso"), (
        ("0201", "Televisions", ('{in}" LED TV', '{in}" OLED TV', "{in} inch Smart TV"), 6),
        ("0202", "VCD & DVD", ("DVD Player", "Blu-ray Player", "Portable DVD Player"), 3),
        ("0203", "Home Theater System", ("5.1 Home Theater System", "7.1 Home Theater System, Wireless"), 3),
        ("0204", "Car Video", ('{in}" Car DVD Player', "Rear-Seat Video System"), 2),
    )),
    ("03", "Computers", (15, 3600), ("Adventure Works", "Contoso", "Fabrikam", "Proseware", "Wide World Importers"), (
        ("0301", "Laptops", ('{in}" Laptop', "{in} inch Laptop", "Ultrabook {in}"), 7),
        ("0302", "Netbooks", ('{in}" Netbook', "Netbook"), 2),
        ("0303", "Desktops", ("Desktop PC", "Tower PC", "All-in-One PC"), 5),
        ("0304", "Monitors", ('{in}" LCD Monitor', '{in}" Widescreen Monitor', "{in} inch Monitor"), 5),
        ("0305", "Projectors & Screens", ("Projector", "Projection Screen, Pull-Down", "Short-Throw Projector"), 3),
        ("0306", "Printers, Scanners & Fax", ("Laser Printer", "Inkjet Printer", "Flatbed Scanner", "Fax"), 5),
        ("0307", "Computer Setup & Service", ("Setup Service", "Data Recovery Service", "Extended Warranty"), 2),
        ("0308", "Computers Accessories", ("Wireless Mouse", "Keyboard", "USB Hub", "Laptop Bag"), 6),
    )),
    ("04", "Cameras and camcorders", (40, 2600), ("A. Datum", "Fabrikam", "Contoso"), (
        ("0401", "Digital Cameras", ("{mp}MP Digital Camera", "Compact Camera {mp}MP"), 5),
        ("0402", "Digital SLR Cameras", ("{mp}MP Digital SLR Camera", "DSLR Kit {mp}MP"), 4),
        ("0403", "Film Cameras", ("35mm Film Camera", "Instant Film Camera"), 1),
        ("0404", "Camcorders", ("HD Camcorder", "4K Camcorder", "Action Camcorder"), 4),
        ("0405", "Cameras & Camcorders Accessories", ("Camera Bag", "Tripod", "Lens Filter Kit"), 4),
    )),
    ("05", "Cell phones", (12, 1300), ("The Phone Company", "Contoso", "Litware"), (
        ("0501", "Home & Office Phones", ("Cordless Phone", "Office Phone", "Conference Phone"), 3),
        ("0502", "Touch Screen Phones", ('{ph}" Touch Screen Phone', "Touch Screen Phone"), 4),
        ("0503", "Smart phones & PDAs", ("Smart Phone {gb}GB", "PDA Phone"), 5),
        ("0504", "Cell phones Accessories", ("Phone Charger", "Phone Case", "Car Mount, Magnetic"), 4),
    )),
    ("06", "Music, Movies and Audio Books", (4, 60), ("Contoso", "Litware"), (
        ("0601", "Movie DVD", ("Movie DVD", "Movie Blu-ray", "Box Set DVD"), 3),
        ("0602", "Music CD", ("Music CD", "Live Album CD"), 2),
        ("0603", "Audio Books", ("Audio Book", "Unabridged Audio Book"), 2),
    )),
    ("07", "Games and Toys", (5, 700), ("Tailspin Toys", "Wide World Importers", "Contoso"), (
        ("0701", "Boxed Games", ("Board Game", "Strategy Game", "Puzzle Game"), 3),
        ("0702", "Download Games", ("Download Game", "Game Season Pass"), 3),
        ("0703", "Games Accessories", ("Game Controller", "Gaming Headset", "Game Console"), 3),
    )),
    ("08", "Home Appliances", (25, 3000), ("Litware", "Fabrikam", "Northwind Traders", "Contoso"), (
        ("0801", "Washers & Dryers", ("Washer {kg}kg", "Dryer {kg}kg", "Washer & Dryer {kg}kg, Front Load"), 4),
        ("0802", "Refrigerators", ("Refrigerator {cf}CuFt", "Refrigerator {cf}CuFt, Stainless"), 4),
        ("0803", "Microwaves", ("Microwave {l}L", "Convection Microwave {l}L"), 3),
        ("0804", "Water Heaters", ("Tankless Water Heater", "Water Heater {l}L"), 2),
        ("0805", "Coffee Machines", ("Espresso Machine", "Drip Coffee Maker", "Coffee Grinder"), 3),
        ("0806", "Lamps", ("Desk Lamp", "Floor Lamp", "LED Bulb, 4-Pack"), 3),
        ("0807", "Air Conditioners", ("Portable Air Conditioner", "Window Air Conditioner"), 2),
        ("0808", "Fans", ("Tower Fan", "Desk Fan", "Ceiling Fan"), 2),
    )),
)  # fmt: skip
COLORS = ("Black", "White", "Silver", "Blue", "Red", "Green", "Grey", "Pink", "Orange", "Yellow", "Brown", "Gold",
          "Purple", "Azure", "Silver Grey")  # fmt: skip

# Physical stores per country (66 in all; store 0 is online).
STORES_PER_COUNTRY = {
    "Australia": 5,
    "Canada": 7,
    "France": 5,
    "Germany": 8,
    "Italy": 5,
    "Netherlands": 4,
    "United Kingdom": 8,
    "United States": 24,
}

_EMAIL_TLD = re.compile(r"\.[a-z]{2,}$")


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------
def is_valid_email(value: str) -> bool:
    """The SPEC 7 rule on a trimmed, repaired, lower-cased value: one `@`, no spaces, no `..`, TLD >= 2 letters."""
    email = value.strip().lower()
    if email.count("@") != 1 or any(ch.isspace() for ch in email) or ".." in email:
        return False
    local, domain = email.split("@")
    return bool(local) and "." in domain and _EMAIL_TLD.search(domain) is not None


def mojibake(text: str) -> str:
    """UTF-8 text misread as Latin-1 (`Möller` -> `MÃ¶ller`)."""
    return text.encode("utf-8").decode("latin-1")


def money(cents: int) -> str:
    """Integer cents as a plain decimal string with exactly two decimals (`123456` -> `1234.56`)."""
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return f"{sign}{cents // 100}.{cents % 100:02d}"


def _price_text(cents: int) -> str:
    """The raw file's price quirk, CSV-quoted: `"$1,234.56 "`."""
    return f'"${cents // 100:,}.{cents % 100:02d} "'


def _check(condition: bool, message: str) -> None:
    """Self-check of the generator (kept under `python -O`, unlike assert)."""
    if not condition:
        raise RuntimeError(f"generator self-check failed: {message}")


def _q(value: str) -> str:
    """RFC 4180 quoting where needed (comma, double quote, line break)."""
    if "," in value or '"' in value or "\n" in value or "\r" in value:
        return '"' + value.replace('"', '""') + '"'
    return value


def _ascii_fold(text: str) -> str:
    text = text.replace("ß", "ss").replace("ł", "l").replace("Ł", "L").replace("ø", "o").replace("æ", "ae")
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _cum(weights: list[float] | tuple[float, ...]) -> list[float]:
    return list(accumulate(weights))


def _pick(rng: random.Random, items: tuple | list, cum: list[float]):
    return items[bisect_right(cum, rng.random() * cum[-1])]


def _mdy(d: date) -> str:
    return f"{d.month}/{d.day}/{d.year}"


@dataclass
class _File:
    table: str
    text: str
    rows: int
    data: bytes = b""

    def encode(self) -> None:
        self.data = self.text.encode("utf-8")


# --------------------------------------------------------------------------------------------------
# Products, stores, exchange rates
# --------------------------------------------------------------------------------------------------
@dataclass
class _Products:
    file: _File
    price: list[int]  # cents, index = product key
    cost: list[int]
    category: list[str]  # category name, index = product key
    categories: int
    subcategories: int
    names_with_comma: int
    names_with_quote: int


def _make_products(rng: random.Random) -> _Products:
    subs = [(cat, sub) for cat in CATEGORIES for sub in cat[4]]
    # distribute PRODUCT_ROWS over subcategories by weight (largest remainder, deterministic)
    total_w = sum(sub[3] for _, sub in subs)
    raw = [PRODUCT_ROWS * sub[3] / total_w for _, sub in subs]
    counts = [int(x) for x in raw]
    for i in sorted(range(len(subs)), key=lambda i: (counts[i] - raw[i], i))[: PRODUCT_ROWS - sum(counts)]:
        counts[i] += 1
    header = ",".join(SOURCES_BY_NAME["products"].header)
    lines = [header]
    price = [0]
    cost = [0]
    category = [""]
    key = 0
    with_comma = with_quote = 0
    for (cat, sub), n in zip(subs, counts, strict=True):
        cat_key, cat_name, (lo, hi), brands, _ = cat
        sub_key, sub_name, templates, _ = sub
        for _ in range(n):
            key += 1
            descriptor = rng.choice(templates).format(
                gb=rng.choice((2, 4, 8, 16, 32, 64, 128)),
                mp=rng.choice((8, 10, 12, 16, 20, 24)),
                kg=rng.choice((6, 7, 8, 9, 10)),
                cf=rng.choice(("18.2", "21.5", "24.7", "27.8")),
                l=rng.choice((20, 25, 30, 50, 80)),
                ph=rng.choice(("4.7", "5.5", "6.1", "6.7")),
                **{"in": rng.choice(("13.3", "14", "15.6", "17.3", "24", "27", "32", "43", "55", "65"))},
            )
            brand = rng.choice(brands)
            color = rng.choice(COLORS)
            name = f"{brand} {descriptor} {rng.choice('ELMXS')}{rng.randint(10, 999)} {color}"
            with_comma += "," in name
            with_quote += '"' in name
            # log-uniform price in cents, cost 30-62% of it
            p = int(round(lo * 100 * (hi / lo) ** rng.random()))
            p = max(p, 199)
            c = min(p - 1, max(1, int(round(p * rng.uniform(0.30, 0.62)))))
            price.append(p)
            cost.append(c)
            category.append(cat_name)
            lines.append(
                f"{key},{_q(name)},{_q(brand)},{color},{_price_text(c)},{_price_text(p)},"
                f"{sub_key},{_q(sub_name)},{cat_key},{_q(cat_name)}"
            )
    return _Products(
        _File("products", "\n".join(lines) + "\n", key),
        price,
        cost,
        category,
        len(CATEGORIES),
        len(subs),
        with_comma,
        with_quote,
    )


@dataclass
class _Stores:
    file: _File
    by_country: dict[str, list[int]]  # physical store keys per country name


def _make_stores(rng: random.Random) -> _Stores:
    lines = [",".join(SOURCES_BY_NAME["stores"].header), f"{ONLINE_STORE_KEY},Online,Online,,1/1/2010"]
    by_country: dict[str, list[int]] = {}
    states_of = {c[0]: c[7] for c in COUNTRIES}
    key = 0
    for country in sorted(STORES_PER_COUNTRY):
        states = states_of[country]
        cum = _cum([s[2] for s in states])
        for _ in range(STORES_PER_COUNTRY[country]):
            key += 1
            state = _pick(rng, states, cum)[1]
            sqm = rng.randint(245, 2105)
            opened = date(2005, 1, 1) + timedelta(days=rng.randint(0, 16 * 365))
            lines.append(f"{key},{country},{_q(state)},{sqm},{_mdy(opened)}")
            by_country.setdefault(country, []).append(key)
    _check(key + 1 == STORE_ROWS, f"{key + 1} stores generated, expected {STORE_ROWS}")
    return _Stores(_File("stores", "\n".join(lines) + "\n", STORE_ROWS), by_country)


def _make_rates(rng: random.Random) -> tuple[_File, dict[str, list[int]]]:
    """Exchange_Rates.csv and the rate per currency per day index, in 1/10,000 units per USD."""
    rate4: dict[str, list[int]] = {}
    for cur in CURRENCIES:
        base = BASE_RATES[cur]
        r = base
        series = []
        for _ in range(DAYS):
            if cur != "USD":
                r += 0.03 * (base - r) + r * rng.gauss(0.0, 0.0035)
            series.append(int(round(r * 10_000)))
        rate4[cur] = series
    lines = [",".join(SOURCES_BY_NAME["exchange_rates"].header)]
    for d in range(DAYS):
        ds = DATE_MDY[d]
        for cur in CURRENCIES:
            v = rate4[cur][d]
            lines.append(f"{ds},{cur},{v // 10_000}.{v % 10_000:04d}")
    return _File("exchange_rates", "\n".join(lines) + "\n", DAYS * len(CURRENCIES)), rate4


# --------------------------------------------------------------------------------------------------
# Customers
# --------------------------------------------------------------------------------------------------
# field positions in a customer row
_K, _GENDER, _NAME, _CITY, _SCODE, _STATE, _ZIP, _COUNTRY, _CONT, _BDAY, _AGE, _EMAIL = range(12)
_MOJI_FIELDS = (_NAME, _CITY, _STATE, _EMAIL)


@dataclass
class _Customers:
    file: _File
    keys: list[int]  # distinct keys, index = customer index
    country: list[int]  # country index per customer
    stats: dict = field(default_factory=dict)
    exact_duplicates: int = 0
    superseded: int = 0


def _zip(rng: random.Random, style: str, base: int | str) -> str:
    if style == "us":
        return str(int(base) + int(rng.random() * 40))  # int(): US zips lose their leading zeros
    if style == "5":
        return f"{int(base) + int(rng.random() * 30):05d}"
    if style == "4":
        return f"{int(base) + int(rng.random() * 20):04d}"
    if style == "nl":
        nl_letters = "ABCDEGHJKLMNPRSTVWXZ"
        return f"{int(base) + int(rng.random() * 9)} {rng.choice(nl_letters)}{rng.choice(nl_letters)}"
    letters = "ABDEFGHJLNPQRSTUWXYZ"
    if style == "uk":
        return f"{base} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
    return f"{base} {rng.randint(1, 9)}{rng.choice(letters)}{rng.randint(1, 9)}"  # Canada


def _valid_email(rng: random.Random, first: str, last: str, domains: tuple[str, ...]) -> str:
    first_l = first.lower().replace(" ", "").replace("'", "")
    last_l = last.lower().replace(" ", "").replace("'", "")
    r = rng.random()
    if r < 0.4:
        local = f"{first_l}.{last_l}"
    elif r < 0.6:
        local = f"{first_l[0]}{last_l}"
    elif r < 0.85:
        local = f"{first_l}{last_l}{rng.randint(1, 99)}"
    else:
        local = f"{last_l}.{first_l}{rng.randint(1950, 2007)}"
    keep_accents = rng.random() < 0.35 and all(ch < "\x80" or ch in MOJIBAKE_SAFE for ch in local)
    if not keep_accents:
        local = _ascii_fold(local)
    email = f"{local}@{rng.choice(domains)}"
    r = rng.random()
    if r < 0.06:
        email = email.title()
    elif r < 0.08:
        email = email.upper()
    return email


def _invalid_email(rng: random.Random, shape: int | None = None) -> str:
    if shape is None:
        shape = int(rng.random() * len(INVALID_EMAIL_SHAPES))
    return INVALID_EMAIL_SHAPES[shape].format(n=rng.randint(1000, 99999))


def _impossible_birthday(rng: random.Random) -> tuple[str, int]:
    year = rng.randint(1950, 2003)
    if year % 4 == 0:
        year += 1  # so 2/29 is impossible too
    shape = rng.choice(
        (
            "30/02/{y}",
            "31/02/{y}",
            "2/30/{y}",
            "2/31/{y}",
            "2/29/{y}",
            "31/04/{y}",
            "4/31/{y}",
            "31-06-{y}",
            "{y}-02-30",
            "31/09/{y}",
            "11/31/{y}",
        )
    )
    return shape.format(y=year), year


def _age_text(rng: random.Random, age: int) -> str:
    return f'"{age}"' if rng.random() < 0.10 else f"{age}.0"


def _clean_nonnull(fields: list[str], email_valid: bool, birthday_ok: bool) -> int:
    """Non-null fields of the cleaned record (trimmed, empty -> null, bad birthday/email -> null)."""
    n = 0
    for i, v in enumerate(fields):
        if i == _BDAY:
            n += birthday_ok
        elif i == _EMAIL:
            n += email_valid
        else:
            n += v.strip().strip('"') != ""
    return n


def _make_customers(rng: random.Random, scale: int) -> _Customers:
    n = CUSTOMER_KEYS * scale
    n_rows = CUSTOMER_ROWS * scale
    per_kind = SUPERSEDED_PER_KIND * scale
    n_dups = EXACT_DUPLICATES * scale

    special = rng.sample(range(20, n - 20), INVALID_BIRTHDAYS * scale + round(0.001 * n))
    invalid_bday = set(special[: INVALID_BIRTHDAYS * scale])
    age_imputed = set(special[: AGE_IMPUTED * scale])
    blank_scode = set(special[INVALID_BIRTHDAYS * scale :])

    country_cum = _cum([c[3] for c in COUNTRIES])
    per_country = []
    for c in COUNTRIES:
        states = c[7]
        cultures = sorted(c[5])
        per_country.append(
            (
                c,
                states,
                _cum([s[2] for s in states]),
                cultures,
                _cum([c[5][k] for k in cultures]),
            )
        )

    birth_lo = date(1940, 1, 1).toordinal()
    birth_span = date(2007, 12, 31).toordinal() - birth_lo + 1
    as_of_md = (AS_OF_DATE.month, AS_OF_DATE.day)

    keys: list[int] = []
    countries: list[int] = []
    recs: list[list[str]] = []
    fmts: list[int] = []  # index into BIRTHDAY_FORMATS
    email_status: list[str] = []
    has_alt: list[bool] = []
    key = 300
    rnd = rng.random
    for i in range(n):
        key += 1 + int(rnd() * 12)
        ci = bisect_right(country_cum, rnd() * country_cum[-1])
        c, states, state_cum, cultures, culture_cum = per_country[ci]
        scode, state, _, cities = states[bisect_right(state_cum, rnd() * state_cum[-1])]
        city, zbase, alt = cities[int(rnd() * len(cities))]
        male, female, lasts = CULTURES[cultures[bisect_right(culture_cum, rnd() * culture_cum[-1])]]
        if rnd() < 0.5:
            gender, first = "Male", male[int(rnd() * len(male))]
        else:
            gender, first = "Female", female[int(rnd() * len(female))]
        last = lasts[int(rnd() * len(lasts))]

        if i in invalid_bday:
            bday, year = _impossible_birthday(rng)
            fmt = 4
            age = AS_OF_DATE.year - year
        else:
            b = date.fromordinal(birth_lo + int(rnd() * birth_span))
            y, m, d = b.year, b.month, b.day
            r = rnd()
            if r < 0.56:
                bday, fmt = f"{m}/{d}/{y}", 0
            elif r < 0.73:
                bday, fmt = f"{d:02d}-{m:02d}-{y}", 1
            elif r < 0.90:
                bday, fmt = f"{y}-{m:02d}-{d:02d}", 2
            else:
                if d <= 12:
                    d = 13 + int(rnd() * 16)  # day-first needs a day > 12; 13..28 exists in every month
                bday, fmt = f"{d:02d}/{m:02d}/{y}", 3
            age = AS_OF_DATE.year - y - (as_of_md < (m, d))
        if i in age_imputed:
            age_txt = ""
        elif i in invalid_bday:
            age_txt = _age_text(rng, age)
        else:
            age_txt = "" if rnd() < 0.10 else _age_text(rng, age)

        r = rnd()
        if r < 0.05:
            email, status = "", "missing"
        elif r < 0.09:
            email, status = _invalid_email(rng), "invalid"
        else:
            email, status = _valid_email(rng, first, last, c[6]), "valid"

        keys.append(key)
        countries.append(ci)
        recs.append(
            [
                str(key),
                gender,
                f"{first} {last}",
                city,
                "" if i in blank_scode else scode,
                state,
                _zip(rng, c[4], zbase),
                c[0],
                c[1],
                bday,
                age_txt,
                email,
            ]
        )
        fmts.append(fmt)
        email_status.append(status)
        has_alt.append(alt is not None)

    # ---- mojibake: ~6% of rows, only rows whose every non-ASCII letter is mojibake-safe -----------
    def moji_fields(rec: list[str]) -> list[int] | None:
        found = []
        for f in _MOJI_FIELDS:
            v = rec[f]
            if v.isascii():
                continue
            if any(ch >= "\x80" and ch not in MOJIBAKE_SAFE for ch in v):
                return None
            found.append(f)
        return found or None

    eligible = []
    eligible_fields: dict[int, list[int]] = {}
    for i, rec in enumerate(recs):
        fs = moji_fields(rec)
        if fs:
            eligible.append(i)
            eligible_fields[i] = fs
    n_moji = min(len(eligible), round(0.06 * n))
    moji: dict[int, tuple[int, ...]] = {}
    for i in sorted(rng.sample(eligible, n_moji)):
        fs = eligible_fields[i]
        if len(fs) == 1 or rng.random() < 0.5:
            moji[i] = tuple(fs)
        else:
            moji[i] = tuple(sorted(rng.sample(fs, rng.randint(1, len(fs)))))

    def render(rec: list[str], moji_fs: tuple[int, ...]) -> tuple[str, bool]:
        out = list(rec)
        changed = False
        for f in moji_fs:
            garbled = mojibake(out[f])
            changed |= garbled != out[f]
            out[f] = garbled
        for f in (_NAME, _CITY, _STATE, _ZIP, _EMAIL):
            out[f] = _q(out[f])
        return ",".join(out), changed

    # ---- superseded variants (same key, different content) ----------------------------------------
    taken = invalid_bday | blank_scode
    pool_valid = [i for i in range(20, n - 20) if i not in taken and email_status[i] == "valid"]
    picks = rng.sample(pool_valid, 2 * per_kind)
    kind_email, kind_complete = picks[:per_kind], picks[per_kind:]
    taken.update(picks)
    pool_alt = [i for i in range(20, n - 20) if i not in taken and has_alt[i]]
    kind_first = rng.sample(pool_alt, per_kind)
    taken.update(kind_first)

    base_rec: dict[int, list[str]] = {}  # the record placed at index i, if not recs[i]
    extras: dict[int, list[tuple[str, int, int]]] = {}  # slot -> [(line, customer index, role)]
    variant_rec: dict[int, list[str]] = {}
    kinds: dict[int, str] = {}

    def slot_for(i: int, after: bool | None) -> int:
        while True:
            if after is None:
                s = int(rng.random() * (n + 1))
            elif after:
                s = i + 2 + int(rng.random() * (n - i - 1))
            else:
                s = int(rng.random() * i)
            if s not in (i, i + 1):
                return s

    for kind, chosen in (("email", kind_email), ("completeness", kind_complete), ("first_row", kind_first)):
        for j, i in enumerate(sorted(chosen)):
            good = recs[i]
            if kind == "email":
                bad = list(good)
                bad[_EMAIL] = _invalid_email(rng, j % len(INVALID_EMAIL_SHAPES))
            elif kind == "completeness":
                bad = list(good)
                bad[_SCODE if j % 2 == 0 else _ZIP] = ""
            else:
                bad = list(good)
                city = good[_CITY]
                state_rows = next(s for c in COUNTRIES if c[0] == good[_COUNTRY] for s in c[7] if s[1] == good[_STATE])
                bad[_CITY] = next(alt for name, _, alt in state_rows[3] if name == city)
            variant_is_good = rng.random() < 0.5
            winner_later = j % 2 == 0
            # first_row: either order (the earlier line wins); otherwise place the winner later for every other pair
            after = rng.random() < 0.5 if kind == "first_row" else winner_later == variant_is_good
            base, variant = (bad, good) if variant_is_good else (good, bad)
            base_rec[i] = base
            variant_rec[i] = variant
            kinds[i] = kind
            extras.setdefault(slot_for(i, after), []).append((render(variant, moji.get(i, ()))[0], i, 1))

    # ---- exact duplicates: extra byte-identical copies, scattered, never adjacent ----------------
    pool_dup = [i for i in range(n) if i not in taken]
    n_triples = n_dups // 50
    dup_rows = rng.sample(pool_dup, n_dups - n_triples)
    base_lines: list[tuple[str, bool]] = [
        render(base_rec.get(i, recs[i]), moji.get(i, ())) for i in range(n)
    ]  # fmt: skip
    copies = [(i, None) for i in dup_rows]
    for i in dup_rows[:n_triples]:
        copies.append((i, "third"))
    first_slot: dict[int, int] = {}
    for i, tag in copies:
        while True:
            s = slot_for(i, None)
            if tag is None or s != first_slot[i]:
                break
        if tag is None:
            first_slot[i] = s
        extras.setdefault(s, []).append((base_lines[i][0], i, 0))

    # ---- lay out the file, compute line numbers and per-line statistics ---------------------------
    lines = [",".join(SOURCES_BY_NAME["customers"].header)]
    line_no_base = [0] * n
    line_no_variant: dict[int, int] = {}
    fmt_counts = [0] * len(BIRTHDAY_FORMATS)
    moji_rows = 0
    age_blank_rows = 0
    variant_stats = {i: render(variant_rec[i], moji.get(i, ())) for i in variant_rec}

    def emit_extras(slot: int) -> None:
        nonlocal moji_rows, age_blank_rows
        for text, i, role in extras.get(slot, ()):
            lines.append(text)
            if role == 1:
                line_no_variant[i] = len(lines) - 1
                moji_rows += variant_stats[i][1]
                age_blank_rows += variant_rec[i][_AGE] == ""
            else:
                moji_rows += base_lines[i][1]
                age_blank_rows += base_rec.get(i, recs[i])[_AGE] == ""
            fmt_counts[fmts[i]] += 1

    for i in range(n):
        if i in extras:
            emit_extras(i)
        text, garbled = base_lines[i]
        lines.append(text)
        line_no_base[i] = len(lines) - 1
        moji_rows += garbled
        age_blank_rows += base_rec.get(i, recs[i])[_AGE] == ""
        fmt_counts[fmts[i]] += 1
    emit_extras(n)
    _check(len(lines) - 1 == n_rows, f"{len(lines) - 1} customer rows generated, expected {n_rows}")

    # ---- best record per key: valid email, then most non-null cleaned fields, then first line ----
    survivor_status = list(email_status)
    by_kind = {"email": 0, "completeness": 0, "first_row": 0}
    for i, kind in kinds.items():
        cands = []
        for rec, line_no in ((base_rec[i], line_no_base[i]), (variant_rec[i], line_no_variant[i])):
            valid = is_valid_email(rec[_EMAIL]) if rec[_EMAIL] else False
            nonnull = _clean_nonnull(rec, valid, fmts[i] != 4)
            cands.append((not valid, -nonnull, line_no, rec))
        cands.sort(key=lambda t: t[:3])
        best, loser = cands
        if kind == "email":
            _check(best[0] is False and loser[0] is True, f"email pair of key {keys[i]}: valid email must win")
        elif kind == "completeness":
            _check(best[0] == loser[0] and best[1] < loser[1], f"completeness pair of key {keys[i]}: fuller must win")
        else:
            _check(best[:2] == loser[:2], f"first-row pair of key {keys[i]}: must tie before the line number")
        by_kind[kind] += 1
        email = best[3][_EMAIL]
        survivor_status[i] = "missing" if not email.strip() else ("valid" if is_valid_email(email) else "invalid")

    status_counts = {"valid": 0, "invalid": 0, "missing": 0}
    for s in survivor_status:
        status_counts[s] += 1
    by_country: dict[str, int] = {}
    for ci in countries:
        name = COUNTRIES[ci][0]
        by_country[name] = by_country.get(name, 0) + 1
    imputed = sum(1 for i in invalid_bday if base_rec.get(i, recs[i])[_AGE] == "")

    stats = {
        "distinct_keys": n,
        "email_status": status_counts,
        "mojibake_rows": moji_rows,
        "birthday_formats": dict(zip(BIRTHDAY_FORMATS, fmt_counts, strict=True)),
        "birthday_unparseable": len(invalid_bday),
        "age_blank_rows": age_blank_rows,
        "age_imputed": imputed,
        "by_country": by_country,
        "superseded_by_kind": by_kind,
        "state_code_blank_customers": len(blank_scode),
    }
    return _Customers(
        _File("customers", "\n".join(lines) + "\n", n_rows),
        keys,
        countries,
        stats,
        exact_duplicates=n_dups,
        superseded=3 * per_kind,
    )


# --------------------------------------------------------------------------------------------------
# Sales
# --------------------------------------------------------------------------------------------------
LINES_PER_ORDER_WEIGHTS = (0.42, 0.22, 0.14, 0.09, 0.07, 0.04, 0.02)
QUANTITY_WEIGHTS = (0.25, 0.20, 0.15, 0.12, 0.09, 0.07, 0.05, 0.03, 0.02, 0.02)


@dataclass
class _Sales:
    file: _File
    lines: int
    orders: int
    stats: dict
    last_order_number: int
    last_day: int


def _day_weights() -> list[float]:
    weights = []
    for d in range(DAYS):
        day = START_DATE + timedelta(days=d)
        w = 1.0 + 0.25 * d / DAYS  # growth
        if day.month in (11, 12):
            w *= 1.5
        elif day.month in (1, 2):
            w *= 0.8
        if day.weekday() >= 5:
            w *= 1.15
        weights.append(w)
    return weights


def _make_sales(
    rng: random.Random,
    scale: int,
    customers: _Customers,
    products: _Products,
    stores: _Stores,
    rate4: dict[str, list[int]],
) -> _Sales:
    n_orders = SALES_ORDERS * scale
    n_lines = SALES_LINES * scale
    n_cust = len(customers.keys)

    # lines per order, adjusted to the exact total
    sizes = rng.choices(range(1, 8), weights=LINES_PER_ORDER_WEIGHTS, k=n_orders)
    diff = n_lines - sum(sizes)
    while diff:
        o = int(rng.random() * n_orders)
        if diff > 0 and sizes[o] < 7:
            sizes[o] += 1
            diff -= 1
        elif diff < 0 and sizes[o] > 1:
            sizes[o] -= 1
            diff += 1

    # which customers buy: exactly BUYING_CUSTOMERS * scale, each at least once, a few very often
    buyers = rng.sample(range(n_cust), BUYING_CUSTOMERS * scale)
    weights = [rng.expovariate(1.0) ** 2 for _ in buyers]
    order_cust = buyers + rng.choices(buyers, weights=weights, k=n_orders - len(buyers))
    rng.shuffle(order_cust)

    days = rng.choices(range(DAYS), cum_weights=_cum(_day_weights()), k=n_orders)
    days[0], days[1] = 0, DAYS - 1  # the first and the last day always have orders
    days.sort()

    n_products = len(products.price) - 1
    popularity = [1.0 / (r + 10) ** 0.8 for r in range(n_products)]
    rng.shuffle(popularity)
    prod = rng.choices(range(1, n_products + 1), cum_weights=_cum(popularity), k=n_lines)
    qty = rng.choices(range(1, 11), cum_weights=_cum(QUANTITY_WEIGHTS), k=n_lines)

    currency_of = [COUNTRIES[ci][2] for ci in customers.country]
    stores_of = [stores.by_country[COUNTRIES[ci][0]] for ci in customers.country]
    keys = customers.keys
    price, cost = products.price, products.cost
    last_day = DAYS - 1

    out = [",".join(SOURCES_BY_NAME["sales"].header)]
    append = out.append
    rnd = rng.random
    units = rev = cst = rev_local = 0
    online_lines = blank_delivery = mixed_orders = 0
    lines_by_cur = dict.fromkeys(CURRENCIES, 0)
    rev_by_cur = dict.fromkeys(CURRENCIES, 0)
    local_by_cur = dict.fromkeys(CURRENCIES, 0)
    buying = set()
    pos = 0
    order_number = 100_000
    for o in range(n_orders):
        order_number += 1
        size = sizes[o]
        ci = order_cust[o]
        cust = keys[ci]
        buying.add(cust)
        cur = currency_of[ci]
        rates = rate4[cur]
        day = days[o]
        online = rnd() < 0.18
        if online:
            store = ONLINE_STORE_KEY
        else:
            choices = stores_of[ci]
            store = choices[int(rnd() * len(choices))]
        # a few multi-line orders carry a second order date on their later lines
        day2 = day
        if size > 1 and rnd() < 0.03:
            day2 = day + 1 if day < last_day else day - 1
            mixed_orders += 1
        top = max(day, day2)
        if rnd() < 0.15:
            dd = ""
        else:
            lag = (3 + int(rnd() * 8)) if online else (1 + int(rnd() * 5))
            lag = min(lag, last_day - top)
            dd = DATE_MDY[top + lag] if lag > 0 else ""
        ps = prod[pos : pos + size]
        if size > 1 and len(set(ps)) < size:  # one product per line of an order
            seen: set[int] = set()
            for k in range(size):
                while ps[k] in seen:
                    ps[k] = 1 + int(rnd() * n_products)
                seen.add(ps[k])
        for li in range(size):
            p = ps[li]
            q = qty[pos]
            pos += 1
            d = day if li < 1 or day2 == day or li < size // 2 else day2
            cents = q * price[p]
            units += q
            rev += cents
            cst += q * cost[p]
            local = (cents * rates[d] + 5000) // 10_000
            rev_local += local
            local_by_cur[cur] += local
            rev_by_cur[cur] += cents
            lines_by_cur[cur] += 1
            append(f"{order_number},{li + 1},{DATE_MDY[d]},{dd},{cust},{store},{p},{q},{cur}")
        if online:
            online_lines += size
        if not dd:
            blank_delivery += size
    _check(pos == n_lines, f"{pos} sales lines generated, expected {n_lines}")

    stats = {
        "lines": n_lines,
        "orders": n_orders,
        "units": units,
        "buying_customers": len(buying),
        "online_lines": online_lines,
        "delivery_date_blank": blank_delivery,
        "orders_with_mixed_dates": mixed_orders,
        "first_order_date": START_DATE.isoformat(),
        "last_order_date": AS_OF_DATE.isoformat(),
        "revenue_usd": money(rev),
        "cost_usd": money(cst),
        "margin_usd": money(rev - cst),
        "revenue_local": money(rev_local),
        "lines_by_currency": lines_by_cur,
        "revenue_usd_by_currency": {c: money(v) for c, v in rev_by_cur.items()},
        "revenue_local_by_currency": {c: money(v) for c, v in local_by_cur.items()},
    }
    return _Sales(_File("sales", "\n".join(out) + "\n", n_lines), n_lines, n_orders, stats, order_number, last_day)


def _make_orphans(
    rng: random.Random, sales: _Sales, customers: _Customers, products: _Products, stores: _Stores
) -> tuple[list[str], dict[str, int]]:
    """Extra orders whose every line has exactly one unknown key (customer, product or store)."""
    lines: list[str] = []
    order_number = sales.last_order_number
    max_customer = max(customers.keys)
    n_products = len(products.price) - 1
    unknown_customer = iter(range(max_customer + 1001, max_customer + 100_000, 7))
    unknown_product = iter(range(n_products + 90_001, n_products + 100_000))
    unknown_store = iter(range(STORE_ROWS + 900, STORE_ROWS + 1000))
    for reason, count in ORPHANS.items():
        left = count
        while left:
            size = min(left, rng.randint(1, 3))
            left -= size
            order_number += 1
            day = rng.randint(0, DAYS - 1)
            ci = rng.randrange(len(customers.keys))
            country = COUNTRIES[customers.country[ci]]
            cust = next(unknown_customer) if reason == "orphan_customer" else customers.keys[ci]
            store = rng.choice(stores.by_country[country[0]]) if rng.random() < 0.8 else ONLINE_STORE_KEY
            if reason == "orphan_store":
                store = next(unknown_store)
            dd = DATE_MDY[day + 1] if day < DAYS - 1 else ""
            used: set[int] = set()
            for li in range(size):
                p = next(unknown_product) if reason == "orphan_product" else rng.randint(1, n_products)
                while p in used:
                    p = rng.randint(1, n_products)
                used.add(p)
                q = rng.randint(1, 10)
                lines.append(f"{order_number},{li + 1},{DATE_MDY[day]},{dd},{cust},{store},{p},{q},{country[2]}")
    return lines, dict(ORPHANS)


def _plant_anomalies(sales: _Sales, products: _Products, rate4: dict[str, list[int]]) -> dict[str, list[str]]:
    """Append one order of outlier lines (see PLANTED_DAY) to the sales file and its figures."""
    first = next(line for line in sales.file.text.splitlines()[1:] if line.split(",")[5] != str(ONLINE_STORE_KEY))
    _, _, _, _, customer, store, _, _, currency = first.split(",")
    day = (PLANTED_DAY - START_DATE).days
    order_number = sales.last_order_number + 1
    sales.last_order_number = order_number
    categories = sorted(set(products.category[1:]))[:PLANTED_CATEGORIES]
    stats = sales.stats
    planted = []
    for line_item, name in enumerate(categories, start=1):
        product = max(
            (k for k in range(1, len(products.price)) if products.category[k] == name), key=products.price.__getitem__
        )
        cents = PLANTED_QUANTITY * products.price[product]
        local = (cents * rate4[currency][day] + 5000) // 10_000
        sales.file.text += (
            f"{order_number},{line_item},{DATE_MDY[day]},{DATE_MDY[day + 3]},{customer},{store},{product},"
            f"{PLANTED_QUANTITY},{currency}\n"
        )
        stats["lines"] += 1
        stats["units"] += PLANTED_QUANTITY
        stats["lines_by_currency"][currency] += 1
        for key, amount in (
            ("revenue_usd", cents),
            ("cost_usd", PLANTED_QUANTITY * products.cost[product]),
            ("margin_usd", cents - PLANTED_QUANTITY * products.cost[product]),
            ("revenue_local", local),
        ):
            stats[key] = money(_cents(stats[key]) + amount)
        for key, amount in (("revenue_usd_by_currency", cents), ("revenue_local_by_currency", local)):
            stats[key][currency] = money(_cents(stats[key][currency]) + amount)
        planted.append(f"{order_number}-{line_item}")
    stats["orders"] += 1
    sales.lines += len(planted)
    sales.orders += 1
    sales.file.rows += len(planted)
    return {"order_lines": planted, "days": [PLANTED_DAY.isoformat()]}


def _cents(text: str) -> int:
    """`1234.56` -> 123456 (the inverse of money())."""
    whole, _, fraction = text.partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole)) * 100 + int(fraction or 0))


def _anomalies(lines: list[str], products: _Products) -> dict:
    """The |z| >= 3 outliers of the anomaly_detection report, computed from the valid sales lines.

    Order lines: revenue_usd against all lines of the product's category; days: revenue_usd against all
    days with sales. Mean and sample standard deviation in floating point, like the SQL.
    """
    by_category: dict[str, list[tuple[str, float]]] = {}
    by_day: dict[str, int] = {}
    for line in lines:
        order, item, day, _, _, _, product, quantity, _ = line.split(",")
        cents = int(quantity) * products.price[int(product)]
        by_category.setdefault(products.category[int(product)], []).append((f"{order}-{item}", cents / 100))
        by_day[day] = by_day.get(day, 0) + cents
    days = [(f"{d[6:10]}-{d[0:2]}-{d[3:5]}", cents / 100) for d, cents in by_day.items()]
    order_lines = sorted(key for group in by_category.values() for key in _outliers(group))
    return {
        "order_lines": len(order_lines),
        "order_lines_sha256": hashlib.sha256("\n".join(order_lines).encode()).hexdigest(),
        "days": sorted(_outliers(days)),
    }


def _outliers(values: list[tuple[str, float]]) -> list[str]:
    n = len(values)
    if n < 2:
        return []
    mean = sum(v for _, v in values) / n
    sd = (sum((v - mean) ** 2 for _, v in values) / (n - 1)) ** 0.5
    return [key for key, v in values if sd > 0 and abs(v - mean) / sd >= ANOMALY_Z]


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------
def generate(
    out_dir: Path, scale: int = 1, seed: int = 42, inject_orphans: bool = False, plant_anomalies: bool = False
) -> dict:
    """Write Customers.csv, Products.csv, Stores.csv, Sales.csv, Exchange_Rates.csv and expected.json into out_dir; return the expected dict."""  # noqa: E501
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise ValueError(f"scale must be an integer >= 1, got {scale!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    products = _make_products(random.Random(f"{seed}:products"))
    stores = _make_stores(random.Random(f"{seed}:stores"))
    rates_file, rate4 = _make_rates(random.Random(f"{seed}:exchange_rates"))
    customers = _make_customers(random.Random(f"{seed}:customers"), scale)
    sales = _make_sales(random.Random(f"{seed}:sales"), scale, customers, products, stores, rate4)

    planted = _plant_anomalies(sales, products, rate4) if plant_anomalies else {"order_lines": [], "days": []}
    anomalies = {**_anomalies(sales.file.text.splitlines()[1:], products), "planted": planted}

    rejected_sales = dict.fromkeys(ORPHANS, 0)
    if inject_orphans:
        extra, rejected_sales = _make_orphans(random.Random(f"{seed}:orphans"), sales, customers, products, stores)
        sales.file.text += "\n".join(extra) + "\n"
        sales.file.rows += len(extra)

    by_table = {
        "customers": customers.file,
        "products": products.file,
        "stores": stores.file,
        "sales": sales.file,
        "exchange_rates": rates_file,
    }
    files: dict[str, dict] = {}
    for source in SOURCES:
        f = by_table[source.name]
        f.encode()
        (out_dir / source.file).write_bytes(f.data)
        files[source.file] = {
            "table": source.name,
            "rows": f.rows,
            "bytes": len(f.data),
            "sha256": hashlib.sha256(f.data).hexdigest(),
        }

    def plain(f: _File) -> dict:
        return {"raw_rows": f.rows, "clean_rows": f.rows, "exact_duplicates": 0, "rejected": {}}

    expected = {
        "generator": {
            "seed": seed,
            "scale": scale,
            "inject_orphans": inject_orphans,
            "plant_anomalies": plant_anomalies,
        },
        "as_of_date": AS_OF_DATE.isoformat(),
        "files": files,
        "sources": {
            "customers": {
                "raw_rows": customers.file.rows,
                "clean_rows": len(customers.keys),
                "exact_duplicates": customers.exact_duplicates,
                "rejected": {"superseded_duplicate": customers.superseded},
            },
            "products": plain(products.file),
            "stores": plain(stores.file),
            "exchange_rates": plain(rates_file),
            "sales": {
                "raw_rows": sales.file.rows,
                "clean_rows": sales.lines,
                "exact_duplicates": 0,
                "rejected": rejected_sales,
            },
        },
        "customers": customers.stats,
        "products": {
            "rows": products.file.rows,
            "categories": products.categories,
            "subcategories": products.subcategories,
            "names_with_comma": products.names_with_comma,
            "names_with_quote": products.names_with_quote,
        },
        "stores": {
            "rows": stores.file.rows,
            "online_store_key": ONLINE_STORE_KEY,
            "by_country": {c: len(k) for c, k in stores.by_country.items()},
        },
        "exchange_rates": {
            "rows": rates_file.rows,
            "days": DAYS,
            "currencies": len(CURRENCIES),
            "currency_codes": sorted(CURRENCIES),
            "first_date": START_DATE.isoformat(),
            "last_date": AS_OF_DATE.isoformat(),
        },
        "sales": sales.stats,
        "anomalies": anomalies,
    }
    for name, src in expected["sources"].items():
        total = src["clean_rows"] + src["exact_duplicates"] + sum(src["rejected"].values())
        _check(src["raw_rows"] == total, f"{name}: raw rows {src['raw_rows']} != clean + duplicates + rejected {total}")
    (out_dir / "expected.json").write_text(json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return expected
